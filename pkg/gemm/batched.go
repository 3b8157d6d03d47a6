package gemm

import (
	"fmt"
	"sync"
)

// SgemmStridedBatched computes batch independent products
//
//	C_i = alpha·op(A_i)·op(B_i) + beta·C_i,  i = 0..batch-1,
//
// where A_i starts at a[i·strideA], B_i at b[i·strideB] and C_i at
// c[i·strideC], each laid out as in Sgemm (same shapes and leading
// dimensions for all i). Strides may be smaller than a whole matrix, for
// example the heads of attention stored side by side in one [T, H·d]
// buffer (stride d, leading dimension H·d); strideA or strideB may be 0 to
// reuse one operand. The C_i must not overlap one another.
//
// Small products are dealt out to the workers whole; large ones run one
// after another, each using all workers.
func SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("gemm: SgemmStridedBatched: negative batch=%d or stride (%d, %d, %d)", batch, strideA, strideB, strideC))
	}
	bt := batchPool.Get().(*batchCall)
	bt.offA, bt.offB, bt.offC = bt.offA[:0], bt.offB[:0], bt.offC[:0]
	for i := 0; i < batch; i++ {
		bt.offA = append(bt.offA, i*strideA)
		bt.offB = append(bt.offB, i*strideB)
		bt.offC = append(bt.offC, i*strideC)
	}
	bt.run("SgemmStridedBatched", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	batchPool.Put(bt)
}

// SgemmBatched computes len(offC) independent products
//
//	C_i = alpha·op(A_i)·op(B_i) + beta·C_i,
//
// where A_i starts at a[offA[i]], B_i at b[offB[i]] and C_i at c[offC[i]],
// each laid out as in Sgemm. It suits products read in place at irregular
// positions, such as the weight gradients of selected 256×256 blocks,
// dW(r,c) = dY[:, 256r:]ᵀ·X[:, 256c:]. The C_i must not overlap.
func SgemmBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, offA []int, b []float32, ldb int, offB []int, beta float32, c []float32, ldc int, offC []int) {
	if len(offA) != len(offC) || len(offB) != len(offC) {
		panic(fmt.Sprintf("gemm: SgemmBatched: offset lists differ in length (%d, %d, %d)", len(offA), len(offB), len(offC)))
	}
	bt := batchPool.Get().(*batchCall)
	bt.offA, bt.offB, bt.offC = append(bt.offA[:0], offA...), append(bt.offB[:0], offB...), append(bt.offC[:0], offC...)
	bt.run("SgemmBatched", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	batchPool.Put(bt)
}

// batchCall is the state of one batched call shared by its workers.
type batchCall struct {
	p                problem // shape and scalars; slices re-pointed per item
	offA, offB, offC []int
	ws               [maxTeam]*workspace
	nth              int
	team             teamScratch
}

// dealMaxFlops is the product size below which a batch is always dealt
// out whole, even if that leaves the workers unevenly loaded.
const dealMaxFlops = 64 << 20

var batchPool = sync.Pool{New: func() any { return new(batchCall) }}

// run validates every item and computes the batch.
func (bt *batchCall) run(fn string, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range bt.offC {
		if bt.offA[i] < 0 || bt.offB[i] < 0 || bt.offC[i] < 0 ||
			bt.offA[i] > len(a) || bt.offB[i] > len(b) || bt.offC[i] > len(c) {
			panic(fmt.Sprintf("gemm: %s: item %d starts outside its slice (offsets %d, %d, %d; lengths %d, %d, %d)",
				fn, i, bt.offA[i], bt.offB[i], bt.offC[i], len(a), len(b), len(c)))
		}
		checkGemm(fn, transA, transB, m, n, k, a[bt.offA[i]:], lda, b[bt.offB[i]:], ldb, c[bt.offC[i]:], ldc)
	}
	batch := len(bt.offC)
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	bt.p = problem{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}
	defer func() { bt.p = problem{} }()
	flops := 2 * float64(m) * float64(n) * float64(k)
	workers := maxWorkers()
	// Deal whole items to the workers when there are enough of them to
	// balance (or they are too small to split well); otherwise run one
	// product at a time, each parallel on its own if large enough.
	deal := workers > 1 && batch >= workers && flops*float64(batch) >= parallelMinFlops &&
		(batch%workers == 0 || batch >= 4*workers || flops < dealMaxFlops)
	if !deal {
		for i := range bt.offC {
			q := bt.item(i)
			q.run(workers)
		}
		return
	}
	bt.nth = min(workers, batch, maxTeam)
	for t := 0; t < bt.nth; t++ {
		bt.ws[t] = getWorkspace()
	}
	runTeam(bt, bt.nth, &bt.team)
	for t := 0; t < bt.nth; t++ {
		putWorkspace(bt.ws[t])
		bt.ws[t] = nil
	}
}

// item returns product i of the batch.
func (bt *batchCall) item(i int) problem {
	q := bt.p
	q.a, q.b, q.c = q.a[bt.offA[i]:], q.b[bt.offB[i]:], q.c[bt.offC[i]:]
	return q
}

// runWorker computes worker tid's contiguous share of the items, each on
// one thread.
func (bt *batchCall) runWorker(tid int) {
	lo, hi := span(len(bt.offC), bt.nth, tid)
	ws := bt.ws[tid]
	kern := currentKernel()
	for i := lo; i < hi; i++ {
		q := bt.item(i)
		if q.k == 0 || q.alpha == 0 {
			scaleC(q.m, q.n, q.beta, q.c, q.ldc)
			continue
		}
		q.serial(kern, ws)
	}
}
