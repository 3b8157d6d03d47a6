package gemm

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/smt-go/smt/pkg/gemm/internal/gemmtest"
)

func unsafePointer(s []float32) unsafe.Pointer { return unsafe.Pointer(&s[0]) }

// batchAsLoop adapts one item of a strided batch to the gemmtest harness:
// the batch is laid out so that item i's matrices sit side by side in one
// buffer (like attention heads in a [T, H·d] activation), and every item is
// checked against the reference.
func TestSgemmStridedBatched(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	type shape struct {
		m, n, k, batch int
		ta, tb         bool
	}
	for _, s := range []shape{
		{256, 256, 8, 6, false, true},   // attention scores, head_dim 8
		{256, 64, 256, 6, false, false}, // attention output
		{33, 17, 13, 5, true, false},
		{7, 65, 31, 3, true, true},
		{300, 280, 260, 2, false, true}, // items large enough to split
		{1, 1, 1, 9, false, false},
	} {
		for _, th := range []int{1, 2} {
			withThreads(th, func() {
				checkStrided(t, rng, s.ta, s.tb, s.m, s.n, s.k, s.batch)
			})
		}
	}
}

// checkStrided lays batch items side by side along the columns (stride =
// row length, leading dimension = batch·row length) and compares every
// item with the reference.
func checkStrided(t *testing.T, rng *rand.Rand, ta, tb bool, m, n, k, batch int) {
	t.Helper()
	ar, ac := m, k
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	lda, ldb, ldc := batch*ac, batch*bc, batch*n
	a := gemmtest.RandSlice(rng, ar*lda)
	b := gemmtest.RandSlice(rng, br*ldb)
	c := gemmtest.RandSlice(rng, m*ldc)
	want := append([]float32(nil), c...)
	scales := make([][]float64, batch)
	for i := 0; i < batch; i++ {
		scales[i] = sgemmRef(ta, tb, m, n, k, 1.25, a[i*ac:], lda, b[i*bc:], ldb, -0.5, want[i*n:], ldc)
	}
	SgemmStridedBatched(ta, tb, m, n, k, 1.25, a, lda, ac, b, ldb, bc, -0.5, c, ldc, n, batch)
	for i := 0; i < batch; i++ {
		for r := 0; r < m; r++ {
			for j := 0; j < n; j++ {
				g, w := c[r*ldc+i*n+j], want[r*ldc+i*n+j]
				if d := float64(g - w); !(d*d <= sq(gemmtest.Tolerance(k, scales[i][r*n+j]))) {
					t.Fatalf("batch item %d (%v%v m=%d n=%d k=%d): C[%d,%d] = %v, want %v", i, ta, tb, m, n, k, r, j, g, w)
				}
			}
		}
	}
}

func sq(x float64) float64 { return x * x }

// TestSgemmBatched computes the weight gradients of a few scattered blocks
// read in place, dW(r,c) = dY[:, bs·r:]ᵀ·X[:, bs·c:], as the SMT backward
// pass does, plus a zero-stride strided batch that reuses one operand.
func TestSgemmBatched(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const tokens, out, in, bs = 70, 96, 64, 32
	dy := gemmtest.RandSlice(rng, tokens*out)
	x := gemmtest.RandSlice(rng, tokens*in)
	blocks := [][2]int{{0, 1}, {2, 0}, {1, 1}, {2, 1}, {0, 0}}
	var offA, offB, offC []int
	for i, bl := range blocks {
		offA = append(offA, bs*bl[0])
		offB = append(offB, bs*bl[1])
		offC = append(offC, i*bs*bs)
	}
	for _, th := range []int{1, 2} {
		withThreads(th, func() {
			dw := make([]float32, len(blocks)*bs*bs)
			SgemmBatched(true, false, bs, bs, tokens, 1, dy, out, offA, x, in, offB, 0, dw, bs, offC)
			for i := range blocks {
				want := make([]float32, bs*bs)
				scale := sgemmRef(true, false, bs, bs, tokens, 1, dy[offA[i]:], out, x[offB[i]:], in, 0, want, bs)
				for e := range want {
					if d := float64(dw[offC[i]+e] - want[e]); !(d*d <= sq(gemmtest.Tolerance(tokens, scale[e]))) {
						t.Fatalf("block %v element %d: got %v, want %v", blocks[i], e, dw[offC[i]+e], want[e])
					}
				}
			}
		})
	}
	// strideB = 0: every item multiplies by the same B.
	a := gemmtest.RandSlice(rng, 4*10*20)
	b := gemmtest.RandSlice(rng, 20*30)
	c := make([]float32, 4*10*30)
	SgemmStridedBatched(false, false, 10, 30, 20, 1, a, 20, 200, b, 30, 0, 0, c, 30, 300, 4)
	for i := 0; i < 4; i++ {
		want := make([]float32, 300)
		scale := sgemmRef(false, false, 10, 30, 20, 1, a[i*200:], 20, b, 30, 0, want, 30)
		for e := range want {
			if d := float64(c[i*300+e] - want[e]); !(d*d <= sq(gemmtest.Tolerance(20, scale[e]))) {
				t.Fatalf("zero-stride item %d element %d: got %v, want %v", i, e, c[i*300+e], want[e])
			}
		}
	}
}
