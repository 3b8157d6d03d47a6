package gemm

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/smt-go/smt/pkg/gemm/internal/gemmtest"
)

// sgemmRef is the triple-loop float64 reference (see gemmtest.Ref).
var sgemmRef = gemmtest.Ref

// withKernel runs f with kern forced as the active micro-kernel.
func withKernel(kern *kernel, f func()) {
	old := active.Swap(kern)
	defer active.Store(old)
	f()
}

// withThreads runs f with Sgemm limited to n workers.
func withThreads(n int, f func()) {
	old := Threads()
	SetThreads(n)
	defer SetThreads(old)
	f()
}

func TestSgemmShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range gemmtest.ShapeCases(rng) {
		gemmtest.Check(t, "Sgemm", Sgemm, c, rng)
	}
}

// TestKernels forces every micro-kernel this machine can run (AVX-512,
// AVX2, generic on amd64) and checks each on edge-heavy shapes.
func TestKernels(t *testing.T) {
	ks := availableKernels()
	t.Logf("kernels available: %d, default %s", len(ks), KernelName())
	if ks[len(ks)-1] != genericKernel {
		t.Fatal("the generic kernel must always be available")
	}
	for _, kern := range ks {
		t.Run(kern.name, func(t *testing.T) {
			withKernel(kern, func() {
				if KernelName() != kern.name {
					t.Fatalf("KernelName() = %q after forcing %q", KernelName(), kern.name)
				}
				rng := rand.New(rand.NewPCG(3, 4))
				sizes := []int{1, 3, kern.mr - 1, kern.mr, kern.mr + 1, kern.nr - 1, kern.nr + 1, 2*kern.nr + 3, 65}
				for _, m := range sizes {
					for _, n := range sizes {
						k := sizes[(m+n)%len(sizes)] + kern.kc/2*((m+n)%3) // some k past one block
						for tr := 0; tr < 4; tr++ {
							c := gemmtest.Case{TransA: tr&1 != 0, TransB: tr&2 != 0, M: m, N: n, K: k, Alpha: 1.5, Beta: 0.25, Pad: 3, Off: 1}
							if (m+n+tr)%2 == 0 {
								c.Beta, c.NaNC = 0, true
							}
							gemmtest.Check(t, kern.name, Sgemm, c, rng)
						}
					}
				}
				// Many full tiles and several k blocks.
				gemmtest.Check(t, kern.name, Sgemm, gemmtest.Case{M: 4*kern.mr + 1, N: 5*kern.nr + 2, K: 2*kern.kc + 7, Alpha: 1, Beta: -0.5}, rng)
			})
		})
	}
}

// TestMicroKernelsDirect calls each micro-kernel on one tile, including
// kc = 0, and compares with a direct sum.
func TestMicroKernelsDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kern := range availableKernels() {
		for _, kc := range []int{0, 1, 2, 3, 4, 5, 9, 64} {
			for _, beta := range []float32{0, 1, -0.5} {
				a := gemmtest.RandSlice(rng, max(kc*kern.mr, 1))
				b := gemmtest.RandSlice(rng, max(kc*kern.nr, 1))
				ldc := kern.nr + 5
				c := gemmtest.RandSlice(rng, kern.mr*ldc)
				if beta == 0 {
					for i := range c {
						c[i] = float32(math.NaN())
					}
				}
				c0 := append([]float32(nil), c...)
				kern.fn(kc, &a[0], &b[0], &c[0], ldc, 0.75, beta)
				for i := 0; i < kern.mr; i++ {
					for j := 0; j < ldc; j++ {
						want := c0[i*ldc+j]
						if j < kern.nr {
							var s float64
							for p := 0; p < kc; p++ {
								s += float64(a[p*kern.mr+i]) * float64(b[p*kern.nr+j])
							}
							w := 0.75 * s
							if beta != 0 {
								w += float64(beta) * float64(c0[i*ldc+j])
							}
							want = float32(w)
						}
						if d := math.Abs(float64(c[i*ldc+j] - want)); !(d <= 1e-5*float64(kc+1)) && !(j >= kern.nr && math.IsNaN(float64(want)) && math.IsNaN(float64(c[i*ldc+j]))) {
							t.Fatalf("%s kc=%d beta=%g: C[%d,%d] = %v, want %v", kern.name, kc, beta, i, j, c[i*ldc+j], want)
						}
					}
				}
			}
		}
	}
}

// TestTeams runs products with teams larger than the machine (grids of
// several rows and columns of workers) by calling the driver directly.
func TestTeams(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, nth := range []int{1, 2, 3, 4, 7} {
		run := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			p := problem{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}
			p.run(nth)
		}
		for _, c := range []gemmtest.Case{
			{M: 300, N: 200, K: 900, Alpha: 1, Beta: 0, NaNC: true},         // rows split, several k blocks
			{M: 5, N: 2000, K: 300, Alpha: 2, Beta: 1, TransB: true},        // columns split
			{M: 1000, N: 7, K: 100, Alpha: 1, Beta: 0.5, TransA: true},      // rows split, thin
			{M: 97, N: 301, K: 450, Alpha: -1, Beta: 0, NaNC: true, Pad: 9}, // odd everything
		} {
			gemmtest.Check(t, "team", run, c, rng)
		}
	}
}

func TestSgemmThreadsSetting(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, th := range []int{1, 2, 0} {
		withThreads(th, func() {
			gemmtest.Check(t, "threads", Sgemm, gemmtest.Case{M: 400, N: 300, K: 500, Alpha: 1, Beta: 0.5, TransB: true}, rng)
		})
	}
	SetThreads(0)
	if Threads() < 1 {
		t.Fatalf("Threads() = %d after SetThreads(0)", Threads())
	}
}

// TestSgemmNoReads checks that k == 0 and alpha == 0 compute C = beta·C
// without reading A or B, and that beta == 0 does not read C.
func TestSgemmNoReads(t *testing.T) {
	nan := float32(math.NaN())
	a := []float32{nan, nan, nan, nan}
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 2, 0, a, 2, a, 2, 3, c, 2)
	if c[0] != 3 || c[3] != 12 {
		t.Fatalf("alpha=0: got %v, want beta·C", c)
	}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, -1, c, 2)
	if c[0] != -3 || c[3] != -12 {
		t.Fatalf("k=0: got %v, want beta·C", c)
	}
	c = []float32{nan, nan, nan, nan}
	Sgemm(true, true, 2, 2, 0, 1, nil, 2, nil, 1, 0, c, 2)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("k=0, beta=0 over NaN: got %v, want zeros", c)
		}
	}
	Sgemm(false, false, 0, 0, 5, 1, nil, 5, nil, 1, 0, nil, 1) // empty: no panic
}

func TestSgemmPanics(t *testing.T) {
	buf := make([]float32, 100)
	for _, tc := range []struct {
		want string
		f    func()
	}{
		{"negative size", func() { Sgemm(false, false, -1, 2, 2, 1, buf, 2, buf, 2, 0, buf, 2) }},
		{"lda=2 is less than max(1, 3)", func() { Sgemm(false, false, 2, 2, 3, 1, buf, 2, buf, 2, 0, buf, 2) }},
		{"lda=2 is less than max(1, 3)", func() { Sgemm(true, false, 3, 2, 2, 1, buf, 2, buf, 2, 0, buf, 2) }},
		{"ldb=2 is less than max(1, 3)", func() { Sgemm(false, true, 2, 2, 3, 1, buf, 3, buf, 2, 0, buf, 2) }},
		{"ldc=1 is less than max(1, 2)", func() { Sgemm(false, false, 2, 2, 2, 1, buf, 2, buf, 2, 0, buf, 1) }},
		{"len(a)=5 is too short", func() { Sgemm(false, false, 2, 2, 3, 1, buf[:5], 3, buf, 2, 0, buf, 2) }},
		{"len(b)=3 is too short", func() { Sgemm(false, false, 2, 2, 2, 1, buf, 2, buf[:3], 2, 0, buf, 2) }},
		{"len(c)=6 is too short", func() { Sgemm(false, false, 2, 2, 2, 1, buf, 2, buf, 2, 0, buf[:6], 5) }},
		{"SgemmStridedBatched: len(c)", func() {
			SgemmStridedBatched(false, false, 2, 2, 2, 1, buf, 2, 4, buf, 2, 4, 0, buf[:10], 2, 4, 3)
		}},
		{"offset lists differ", func() {
			SgemmBatched(false, false, 2, 2, 2, 1, buf, 2, []int{0}, buf, 2, []int{0, 1}, 0, buf, 2, []int{0})
		}},
	} {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if r == nil || !strings.Contains(msg, tc.want) {
					t.Errorf("panic = %v, want one containing %q", r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

// TestSgemmConcurrent runs Sgemm from several goroutines at once (the
// worker pool and the workspace free list are shared).
func TestSgemmConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for i := 0; i < 3; i++ {
				gemmtest.Check(t, "concurrent", Sgemm, gemmtest.Case{M: 150 + g, N: 260, K: 300 + 7*i, Alpha: 1, Beta: 0, NaNC: true}, rng)
			}
		}()
	}
	wg.Wait()
}

// TestSgemmNoAlloc checks that warm calls do not allocate.
func TestSgemmNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	m, n, k := 256, 320, 300
	a, b, c := gemmtest.RandSlice(rng, m*k), gemmtest.RandSlice(rng, k*n), make([]float32, m*n)
	for _, th := range []int{1, 2} {
		withThreads(th, func() {
			Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
			if allocs := testing.AllocsPerRun(20, func() { Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n) }); allocs > 0 {
				t.Errorf("threads=%d: %v allocations per call", th, allocs)
			}
		})
	}
}

func TestAlignedFloats(t *testing.T) {
	for n := 1; n < 40; n += 7 {
		s := alignedFloats(n)
		if len(s) != n || uintptr(unsafePointer(s))%64 != 0 {
			t.Fatalf("alignedFloats(%d): len %d, address %#x", n, len(s), uintptr(unsafePointer(s)))
		}
	}
}

// TestEdgeKernels calls each kernel's partial-width routine for every
// width 1..nr-1 and checks the written columns and that the others (NaN
// sentinels) are untouched.
func TestEdgeKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 15))
	for _, kern := range availableKernels() {
		if kern.edge == nil {
			continue
		}
		for cols := 1; cols < kern.nr; cols++ {
			for _, kc := range []int{0, 1, 5, 64} {
				for _, beta := range []float32{0, -0.5} {
					a := gemmtest.RandSlice(rng, max(kc*kern.mr, 1))
					b := gemmtest.RandSlice(rng, max(kc*kern.nr, 1))
					for p := 0; p < kc; p++ { // packed panels are zero past cols
						clear(b[p*kern.nr+cols : (p+1)*kern.nr])
					}
					ldc := kern.nr + 3
					c := gemmtest.RandSlice(rng, kern.mr*ldc)
					for i := 0; i < kern.mr; i++ {
						for j := 0; j < ldc; j++ {
							if j >= cols || beta == 0 {
								c[i*ldc+j] = float32(math.NaN())
							}
						}
					}
					c0 := append([]float32(nil), c...)
					kern.edge(kc, &a[0], &b[0], &c[0], ldc, 1.5, beta, cols)
					for i := 0; i < kern.mr; i++ {
						for j := 0; j < ldc; j++ {
							got := c[i*ldc+j]
							if j >= cols {
								if !math.IsNaN(float64(got)) {
									t.Fatalf("%s cols=%d: C[%d,%d] written (%v)", kern.name, cols, i, j, got)
								}
								continue
							}
							var s float64
							for p := 0; p < kc; p++ {
								s += float64(a[p*kern.mr+i]) * float64(b[p*kern.nr+j])
							}
							want := 1.5 * s
							if beta != 0 {
								want += float64(beta) * float64(c0[i*ldc+j])
							}
							if d := math.Abs(float64(got) - want); !(d <= 1e-5*float64(kc+1)) {
								t.Fatalf("%s cols=%d kc=%d beta=%g: C[%d,%d] = %v, want %v", kern.name, cols, kc, beta, i, j, got, want)
							}
						}
					}
				}
			}
		}
	}
}
