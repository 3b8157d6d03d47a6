package gemm

import "sync"

// problem is one validated C = alpha·op(A)·op(B) + beta·C.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
}

// Work below these sizes is not worth waking another worker for; measured
// with BenchmarkSgemmSmall (a wake-up costs a few µs, 2·64³ flops take
// about 2 µs on one Zen 5 core).
const (
	parallelMinFlops  = 4 << 20 // whole product
	perWorkerMinFlops = 2 << 20 // share of each worker
)

// call is the state one Sgemm call shares between its workers.
type call struct {
	blocking
	p      problem
	nth    int  // workers in the team
	splitN bool // workers own column ranges (else row ranges, sharing packed B)
	ws     [maxTeam]*workspace
	bar    barrier
	team   teamScratch
}

// blocking is a kernel and the block sizes chosen for one product.
type blocking struct {
	kern       *kernel
	mc, kc, nc int
}

// serialBlocking returns the block sizes for a single worker.
func serialBlocking(kern *kernel, p *problem) blocking {
	return blocking{
		kern: kern,
		mc:   min(kern.mc, roundUp(p.m, kern.mr)),
		kc:   ceilDiv(p.k, ceilDiv(p.k, kern.kc)),
		nc:   min(kern.nc, roundUp(p.n, kern.nr)),
	}
}

// size makes ws large enough for one worker running b alone.
func (b *blocking) size(ws *workspace) {
	ws.a = grow(ws.a, b.mc*b.kc)
	ws.b[0] = grow(ws.b[0], b.kc*b.nc)
	ws.tile = grow(ws.tile, b.kern.mr*b.kern.nr)
}

// maxTeam bounds the workers of one call.
const maxTeam = 64

var callPool = sync.Pool{New: func() any { return new(call) }}

// run computes the product with at most maxThreads workers.
func (p *problem) run(maxThreads int) { p.runTeam(maxThreads, false) }

// runForced computes the product with a team of nth workers even when it
// is too small to be worth splitting (for tests and benchmarks).
func (p *problem) runForced(nth int) { p.runTeam(nth, true) }

// runTeam is run, with the size thresholds optionally ignored.
func (p *problem) runTeam(maxThreads int, force bool) {
	if p.m == 0 || p.n == 0 {
		return
	}
	if p.k == 0 || p.alpha == 0 {
		scaleC(p.m, p.n, p.beta, p.c, p.ldc)
		return
	}
	cl := callPool.Get().(*call)
	cl.p = *p
	cl.kern = currentKernel()
	cl.plan(maxThreads, force)
	for t := 0; t < cl.nth; t++ {
		cl.ws[t] = getWorkspace()
	}
	cl.sizeBuffers()
	cl.bar.reset(cl.nth)
	runTeam(cl, cl.nth, &cl.team)
	for t := 0; t < cl.nth; t++ {
		putWorkspace(cl.ws[t])
		cl.ws[t] = nil
	}
	cl.p = problem{}
	callPool.Put(cl)
}

// plan picks the team size, the split direction and the block sizes.
func (cl *call) plan(maxThreads int, force bool) {
	p, kern := &cl.p, cl.kern
	flops := 2 * float64(p.m) * float64(p.n) * float64(p.k)
	nth := min(maxThreads, maxTeam)
	if !force {
		nth = min(nth, int(flops/perWorkerMinFlops))
		if flops < parallelMinFlops {
			nth = 1
		}
	}
	nth = max(nth, 1)
	mPanels, nPanels := ceilDiv(p.m, kern.mr), ceilDiv(p.n, kern.nr)
	// Split rows (sharing packed B) unless that leaves a worker idle or
	// badly unbalanced and columns split better.
	cl.splitN = nth > 1 && balance(nPanels, nth) > balance(mPanels, nth)+0.1
	if !cl.splitN {
		nth = min(nth, mPanels)
	} else {
		nth = min(nth, nPanels)
	}
	cl.nth = nth

	nk := ceilDiv(p.k, kern.kc)
	cl.kc = ceilDiv(p.k, nk)
	if cl.splitN {
		cl.mc = min(kern.mc, roundUp(p.m, kern.mr))
		cl.nc = min(kern.nc, ceilDiv(nPanels, nth)*kern.nr)
	} else {
		cl.mc = min(kern.mc, ceilDiv(mPanels, nth)*kern.mr)
		cl.nc = min(kern.nc, roundUp(p.n, kern.nr))
	}
}

// balance is the fraction of useful work when panels are dealt to nth
// workers in contiguous runs.
func balance(panels, nth int) float64 {
	return float64(panels) / float64(nth*ceilDiv(panels, nth))
}

// sizeBuffers makes every workspace of the team large enough.
func (cl *call) sizeBuffers() {
	kern := cl.kern
	for t := 0; t < cl.nth; t++ {
		ws := cl.ws[t]
		ws.a = grow(ws.a, cl.mc*cl.kc)
		ws.tile = grow(ws.tile, kern.mr*kern.nr)
		if t == 0 || cl.splitN {
			ws.b[0] = grow(ws.b[0], cl.kc*cl.nc)
		}
		if t == 0 && cl.nth > 1 && !cl.splitN {
			ws.b[1] = grow(ws.b[1], cl.kc*cl.nc)
		}
	}
}

// runWorker is worker tid's share of the call.
func (cl *call) runWorker(tid int) {
	p, kern := &cl.p, cl.kern
	if !cl.splitN {
		s0, s1 := span(ceilDiv(p.m, kern.mr), cl.nth, tid)
		cl.blocked(p, cl.ws[0], cl.ws[tid], tid, cl.nth, s0*kern.mr, min(s1*kern.mr, p.m), &cl.bar)
		return
	}
	s0, s1 := span(ceilDiv(p.n, kern.nr), cl.nth, tid)
	sub := p.columns(s0*kern.nr, min(s1*kern.nr, p.n))
	cl.blocked(&sub, cl.ws[tid], cl.ws[tid], 0, 1, 0, sub.m, nil)
}

// columns returns the product restricted to columns [j0, j1) of C.
func (p *problem) columns(j0, j1 int) problem {
	q := *p
	q.n = j1 - j0
	if p.transB {
		q.b = p.b[j0*p.ldb:]
	} else {
		q.b = p.b[j0:]
	}
	q.c = p.c[j0:]
	return q
}

// blocked runs the Goto/BLIS loop nest for rows [r0, r1) of C. A team of
// nth workers packs each kc×nc block of op(B) together into shared (every
// worker a slice of its panels), meets at the barrier, and then each worker
// packs its own mc×kc blocks of op(A) into own and sweeps the micro-kernel.
// Packed B is double-buffered, so one barrier per block suffices: a worker
// that passed barrier i knows every worker has finished with block i-1,
// whose buffer block i+1 reuses.
func (cl *blocking) blocked(p *problem, shared, own *workspace, tid, nth, r0, r1 int, bar *barrier) {
	kern := cl.kern
	buf := 0
	for jc := 0; jc < p.n; jc += cl.nc {
		nc := min(cl.nc, p.n-jc)
		panels := ceilDiv(nc, kern.nr)
		for pc := 0; pc < p.k; pc += cl.kc {
			kc := min(cl.kc, p.k-pc)
			bp := shared.b[buf]
			s0, s1 := span(panels, nth, tid)
			packB(p.transB, p.b, p.ldb, pc, jc, kc, nc, kern.nr, bp, s0, s1)
			if nth > 1 {
				bar.wait()
				buf ^= 1
			}
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := r0; ic < r1; ic += cl.mc {
				mc := min(cl.mc, r1-ic)
				packA(p.transA, p.a, p.lda, ic, pc, mc, kc, kern.mr, own.a)
				macroKernel(kern, mc, nc, kc, p.alpha, beta, own.a, bp, p.c[ic*p.ldc+jc:], p.ldc, own.tile)
			}
		}
	}
}

// macroKernel multiplies a packed mc×kc block of A by a packed kc×nc block
// of B into C (row stride ldc), one micro-tile at a time. The B micro-panel
// of the outer loop stays in L1 while the A micro-panels stream from L2.
// Partial tiles at the bottom and right edges are computed into tile and
// merged into C by Go code.
func macroKernel(kern *kernel, mc, nc, kc int, alpha, beta float32, ap, bp, c []float32, ldc int, tile []float32) {
	mr, nr, fn := kern.mr, kern.nr, kern.fn
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		b := &bp[jr*kc]
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			a := &ap[ir*kc]
			if rows == mr && cols == nr {
				fn(kc, a, b, &c[ir*ldc+jr], ldc, alpha, beta)
				continue
			}
			fn(kc, a, b, &tile[0], nr, 1, 0)
			mergeTile(c[ir*ldc+jr:], ldc, tile, nr, rows, cols, alpha, beta)
		}
	}
}

// mergeTile writes C = alpha·T + beta·C for the top-left rows×cols of the
// scratch tile T (row stride nr); C is not read when beta == 0.
func mergeTile(c []float32, ldc int, t []float32, nr, rows, cols int, alpha, beta float32) {
	for i := 0; i < rows; i++ {
		ci := c[i*ldc : i*ldc+cols]
		ti := t[i*nr : i*nr+cols]
		if beta == 0 {
			for j := range ci {
				ci[j] = alpha * ti[j]
			}
		} else {
			for j := range ci {
				ci[j] = alpha*ti[j] + beta*ci[j]
			}
		}
	}
}

// scaleC sets C = beta·C for an m×n matrix, without reading C when beta == 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// span returns the half-open range of the items 0..n-1 that worker tid of
// nth owns, dealt out in contiguous runs whose sizes differ by at most one.
func span(n, nth, tid int) (int, int) {
	q, r := n/nth, n%nth
	lo := tid*q + min(tid, r)
	hi := lo + q
	if tid < r {
		hi++
	}
	return lo, hi
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }
