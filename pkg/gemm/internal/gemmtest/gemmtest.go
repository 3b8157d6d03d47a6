// Package gemmtest holds the reference GEMM and the test harness shared by
// the tests of package gemm and its OpenBLAS binding. It is imported only
// from tests.
package gemmtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Func is the Sgemm signature every implementation under test shares.
type Func func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// Ref is the obviously-correct reference GEMM: a triple loop accumulating
// in float64. It also returns, per element of C, the scale
// |alpha|·Σ_p |op(A)[i,p]·op(B)[p,j]| + |beta·C[i,j]| against which the
// rounding error of a float32 computation is bounded (see Tolerance).
func Ref(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (scale []float64) {
	scale = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, abs float64
			for p := 0; p < k; p++ {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
				abs += math.Abs(float64(av) * float64(bv))
			}
			ci := &c[i*ldc+j]
			r := float64(alpha) * s
			sc := math.Abs(float64(alpha)) * abs
			if beta != 0 {
				r += float64(beta) * float64(*ci)
				sc += math.Abs(float64(beta) * float64(*ci))
			}
			*ci = float32(r)
			scale[i*n+j] = sc
		}
	}
	return scale
}

// Tolerance bounds |computed − exact| for one element of C whose dot
// product has length k and whose Ref scale is scale.
//
// A float32 dot product of length k, accumulated in any order (blocked FMA
// chains here), satisfies |fl(s) − s| ≤ γ_k·Σ|a_p·b_p| with γ_k ≈ k·u and
// u = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical Algorithms, §3.1).
// Scaling by alpha, adding beta·C and rounding to float32 add a few more
// units of u, so (k+4)·u·scale bounds the error; we allow twice that. A
// wrong kernel (a dropped, repeated or misplaced term) is off by a whole
// |a_p·b_p| ≈ scale/k, which exceeds this bound for every k ≤ 2000 given
// the inputs of RandSlice (|x| ≥ 1/64), so the tests can fail. The tiny
// absolute term covers results in the denormal range.
func Tolerance(k int, scale float64) float64 {
	const u = 1.0 / (1 << 24)
	return 2*float64(k+4)*u*scale + 1e-30
}

// RandSlice returns n uniform values in [-1, -1/64] ∪ [1/64, 1]: never
// zero, so every term of a product matters.
func RandSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		v := float32(1.0/64 + rng.Float64()*(1-1.0/64))
		if rng.IntN(2) == 0 {
			v = -v
		}
		s[i] = v
	}
	return s
}

// Case is one product to test.
type Case struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float32
	Pad            int  // extra elements per row beyond each stored row (ld = cols+Pad)
	Off            int  // offset of each matrix inside a larger buffer (sub-matrix view)
	NaNC           bool // fill C with NaN before the call (needs Beta == 0)
}

// String names the case in failure messages.
func (c Case) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s m=%d n=%d k=%d alpha=%g beta=%g pad=%d off=%d nanC=%v",
		t(c.TransA), t(c.TransB), c.M, c.N, c.K, c.Alpha, c.Beta, c.Pad, c.Off, c.NaNC)
}

// matrix is a rows×cols view at offset off of a larger buffer with leading
// dimension ld. Elements outside the view (padding, the prefix) are NaN in
// inputs, so reading them poisons the result, and are checked untouched in
// outputs.
type matrix struct {
	buf       []float32 // whole buffer: prefix, view, tail
	off, ld   int
	rows, col int
}

// newMatrix makes a view filled with random values and NaN padding.
func newMatrix(rng *rand.Rand, rows, cols, pad, off int) matrix {
	ld := max(cols+pad, 1)
	size := off + max(rows-1, 0)*ld + cols + pad // a little tail too
	buf := make([]float32, size)
	for i := range buf {
		buf[i] = float32(math.NaN())
	}
	vals := RandSlice(rng, rows*cols)
	for i := 0; i < rows; i++ {
		copy(buf[off+i*ld:off+i*ld+cols], vals[i*cols:(i+1)*cols])
	}
	return matrix{buf, off, ld, rows, cols}
}

// view is the slice passed to Sgemm: exactly as long as the view needs.
func (x matrix) view() []float32 {
	if x.rows == 0 || x.col == 0 {
		return x.buf[x.off:x.off]
	}
	return x.buf[x.off : x.off+(x.rows-1)*x.ld+x.col]
}

// Check runs f on the case with fresh random inputs and compares the
// result with Ref, element by element within Tolerance. It also checks
// that nothing outside the C view was written.
func Check(t testing.TB, name string, f Func, c Case, rng *rand.Rand) {
	t.Helper()
	ar, ac := c.M, c.K
	if c.TransA {
		ar, ac = c.K, c.M
	}
	br, bc := c.K, c.N
	if c.TransB {
		br, bc = c.N, c.K
	}
	a := newMatrix(rng, ar, ac, c.Pad, c.Off)
	b := newMatrix(rng, br, bc, c.Pad, c.Off)
	cm := newMatrix(rng, c.M, c.N, c.Pad, c.Off)
	if c.NaNC {
		for i := 0; i < c.M; i++ {
			for j := 0; j < c.N; j++ {
				cm.buf[c.Off+i*cm.ld+j] = float32(math.NaN())
			}
		}
	}
	want := append([]float32(nil), cm.buf...)
	var scale []float64
	if c.M > 0 && c.N > 0 {
		scale = Ref(c.TransA, c.TransB, c.M, c.N, c.K, c.Alpha, a.view(), a.ld, b.view(), b.ld, c.Beta, want[c.Off:], cm.ld)
	}
	got := append([]float32(nil), cm.buf...)
	f(c.TransA, c.TransB, c.M, c.N, c.K, c.Alpha, a.view(), a.ld, b.view(), b.ld, c.Beta, cm.viewOf(got), cm.ld)

	bad := 0
	for idx := range got {
		i, j := (idx-c.Off)/cm.ld, (idx-c.Off)%cm.ld
		inView := idx >= c.Off && i < c.M && j < c.N
		g, w := got[idx], want[idx]
		if !inView {
			if math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("%s %v: element %d outside C was changed to %v", name, c, idx, g)
				bad++
			}
		} else if d := math.Abs(float64(g) - float64(w)); !(d <= Tolerance(c.K, scale[i*c.N+j])) {
			t.Errorf("%s %v: C[%d,%d] = %v, want %v (|diff| %.3g > tolerance %.3g)",
				name, c, i, j, g, w, d, Tolerance(c.K, scale[i*c.N+j]))
			bad++
		}
		if bad >= 5 {
			t.FailNow()
		}
	}
}

// viewOf returns the C view inside another buffer of the same layout.
func (x matrix) viewOf(buf []float32) []float32 {
	y := x
	y.buf = buf
	return y.view()
}

// Sizes are the dimensions every implementation is tested on: 1, small
// primes, and values on either side of the register-tile and vector widths.
var Sizes = []int{1, 2, 3, 5, 7, 12, 13, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257}

// ShapeCases returns a broad but bounded set of cases: every size in each
// dimension with the others held at a few values, in all four transpose
// combinations, with assorted alpha, beta, padding and offsets.
func ShapeCases(rng *rand.Rand) []Case {
	var cs []Case
	alphas := []float32{1, -0.75, 2.5}
	betas := []float32{0, 1, 0.5, -1.25}
	add := func(m, n, k int) {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				c := Case{TransA: ta, TransB: tb, M: m, N: n, K: k,
					Alpha: alphas[rng.IntN(len(alphas))], Beta: betas[rng.IntN(len(betas))],
					Pad: rng.IntN(3) * 5, Off: rng.IntN(2) * 7}
				c.NaNC = c.Beta == 0
				cs = append(cs, c)
			}
		}
	}
	others := []int{1, 13, 33, 100}
	for _, s := range Sizes {
		for _, o := range others {
			add(s, o, others[(s+o)%len(others)])
			add(o, s, others[(s+2*o)%len(others)])
			add(others[(s+3*o)%len(others)], o, s)
		}
	}
	for i := 0; i < 40; i++ {
		add(Sizes[rng.IntN(len(Sizes))], Sizes[rng.IntN(len(Sizes))], Sizes[rng.IntN(len(Sizes))])
	}
	add(257, 257, 257)
	add(130, 300, 700) // k spans several blocks, n spans a partial panel
	return cs
}
