package gemm

import (
	"runtime"
	"sync/atomic"
)

// threadsSetting is the worker count requested through SetThreads.
var threadsSetting atomic.Int32

func init() { threadsSetting.Store(int32(runtime.NumCPU())) }

// SetThreads sets how many workers Sgemm and SgemmStridedBatched may use.
// n <= 0 restores the default, runtime.NumCPU(). The count actually used is
// also capped by GOMAXPROCS and by the size of the product.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	threadsSetting.Store(int32(n))
}

// Threads reports the worker count set by SetThreads.
func Threads() int { return int(threadsSetting.Load()) }

// maxWorkers is the worker count a call may use right now.
func maxWorkers() int {
	n := Threads()
	if p := runtime.GOMAXPROCS(0); p < n {
		n = p
	}
	return max(n, 1)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, where op(A) is m×k,
// op(B) is k×n and C is m×n, all stored row-major.
//
// Without transA, A is stored m×k with leading dimension lda ≥ max(1,k);
// with transA it is stored k×m (lda ≥ max(1,m)) and op(A) = Aᵀ. Likewise
// B is stored k×n (ldb ≥ max(1,n)) or, with transB, n×k (ldb ≥ max(1,k)).
// C is m×n with ldc ≥ max(1,n). Slices only need to reach the last element
// of the last row, so sub-matrix views work.
//
// When beta == 0, C is not read (it may hold NaN or garbage). When k == 0
// or alpha == 0, A and B are not read and C = beta·C.
// Sgemm panics with a descriptive message on negative sizes, too-small
// leading dimensions or too-short slices.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm("Sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	p := problem{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}
	p.run(maxWorkers())
}
