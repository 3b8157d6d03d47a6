package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/smt-go/smt/pkg/gemm/internal/gemmtest"
)

// benchShape is one product of the training step: M×K times K×N.
type benchShape struct {
	name           string
	transA, transB bool
	m, k, n        int
}

// trainingShapes are the products that dominate a stories15M-shaped step
// (N=4096 tokens, dim 288, hidden 768, vocab 32000).
var trainingShapes = []benchShape{
	{"fwd_4096x288x768", false, true, 4096, 288, 768},   // Y = X·Wᵀ
	{"bwd_4096x768x288", false, false, 4096, 768, 288},  // dX = dY·W
	{"wgrad_288x4096x768", true, false, 288, 4096, 768}, // dW = dYᵀ·X
	{"head_4096x288x32000", false, true, 4096, 288, 32000},
	{"small_256x64x256", false, false, 256, 64, 256},
}

// benchSgemm reports GFLOP/s for f on one shape.
func benchSgemm(b *testing.B, s benchShape, f gemmtest.Func) {
	rng := rand.New(rand.NewPCG(1, 1))
	lda, ldb := s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	a := gemmtest.RandSlice(rng, s.m*s.k)
	bb := gemmtest.RandSlice(rng, s.k*s.n)
	c := make([]float32, s.m*s.n)
	f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	b.ResetTimer()
	for b.Loop() {
		f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
	}
	b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	for _, th := range []int{1, 2} {
		for _, s := range trainingShapes {
			b.Run(fmt.Sprintf("%s/threads=%d", s.name, th), func(b *testing.B) {
				withThreads(th, func() { benchSgemm(b, s, Sgemm) })
			})
		}
	}
}

// BenchmarkSgemmSmall measures the fixed costs that decide when to go
// parallel (parallelMinFlops).
func BenchmarkSgemmSmall(b *testing.B) {
	for _, n := range []int{16, 32, 64, 96, 128, 192} {
		for _, th := range []int{1, 2} {
			s := benchShape{fmt.Sprintf("%d", n), false, false, n, n, n}
			b.Run(fmt.Sprintf("n=%d/threads=%d", n, th), func(b *testing.B) {
				withThreads(th, func() {
					// Force a team of th for the measurement.
					run := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
						p := problem{transA, transB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc}
						p.runForced(th)
					}
					benchSgemm(b, s, run)
				})
			})
		}
	}
}

// BenchmarkKernels compares the micro-kernel variants on a mid-size product.
func BenchmarkKernels(b *testing.B) {
	s := benchShape{"1024", false, true, 1024, 288, 1024}
	for _, kern := range availableKernels() {
		b.Run(kern.name, func(b *testing.B) {
			withKernel(kern, func() { withThreads(1, func() { benchSgemm(b, s, Sgemm) }) })
		})
	}
}
