package gemm

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
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

// BenchmarkSgemmStridedBatched measures attention-sized batches: one
// product per (sequence, head) for 16 sequences of 256 tokens and 6 heads
// of size 48, read in place from [T, H·d] activations.
func BenchmarkSgemmStridedBatched(b *testing.B) {
	const seqs, t, h, d = 16, 256, 6, 48
	rng := rand.New(rand.NewPCG(2, 2))
	q := gemmtest.RandSlice(rng, seqs*t*h*d)
	k := gemmtest.RandSlice(rng, seqs*t*h*d)
	att := make([]float32, seqs*h*t*t)
	out := make([]float32, seqs*t*h*d)
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("QKt/threads=%d", th), func(b *testing.B) {
			withThreads(th, func() {
				for b.Loop() {
					// scores[s,h] = Q[s,:,h]·K[s,:,h]ᵀ, one sequence at a time
					for s := 0; s < seqs; s++ {
						SgemmStridedBatched(false, true, t, t, d, 0.125, q[s*t*h*d:], h*d, d, k[s*t*h*d:], h*d, d, 0, att[s*h*t*t:], t, t*t, h)
					}
				}
			})
			b.ReportMetric(2*seqs*h*t*t*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("PV/threads=%d", th), func(b *testing.B) {
			withThreads(th, func() {
				for b.Loop() {
					// out[s,:,h] = P[s,h]·V[s,:,h]
					for s := 0; s < seqs; s++ {
						SgemmStridedBatched(false, false, t, d, t, 1, att[s*h*t*t:], t, t*t, k[s*t*h*d:], h*d, d, 0, out[s*t*h*d:], h*d, d, h)
					}
				}
			})
			b.ReportMetric(2*seqs*h*t*t*d*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// nopTask is a team task that only spins, for BenchmarkDispatch.
type nopTask struct{ spin int }

func (t *nopTask) runWorker(tid int) {
	x := 0
	for i := 0; i < t.spin; i++ {
		x += i
	}
	benchSink.Add(int64(x))
}

var benchSink atomic.Int64

// BenchmarkDispatch measures the cost of handing work to a team: spin=0
// is the bare hand-off; with spin > 0 a team of 2 should take about as
// long as one worker (the work runs in parallel).
func BenchmarkDispatch(b *testing.B) {
	for _, spin := range []int{0, 20000, 100000} {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("spin=%d/team=%d", spin, n), func(b *testing.B) {
				var ts teamScratch
				t := &nopTask{spin}
				for b.Loop() {
					runTeam(t, n, &ts)
				}
			})
		}
	}
}

// BenchmarkPack measures the packing routines on the training shapes'
// blocks (reported per packed element; an FMA lane costs about 0.01 ns).
func BenchmarkPack(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	src := gemmtest.RandSlice(rng, 4096*768)
	dst := alignedFloats(384 * 1024)
	for _, tc := range []struct {
		name string
		f    func()
		n    int
	}{
		{"A_N_240x384", func() { packA(false, src, 768, 0, 0, 240, 384, 12, dst) }, 240 * 384},
		{"A_T_240x384", func() { packA(true, src, 4096, 0, 0, 240, 384, 12, dst) }, 240 * 384},
		{"B_T_288x768", func() { packB(true, src, 288, 0, 0, 288, 768, 32, dst) }, 288 * 768},
		{"B_N_373x768", func() { packB(false, src, 768, 0, 0, 373, 768, 32, dst) }, 373 * 768},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				tc.f()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.n), "ns/elem")
		})
	}
}
