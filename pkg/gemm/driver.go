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

// Work below these sizes is not worth handing to another worker: a
// hand-off to a spinning worker costs about 1 µs (BenchmarkDispatch), and
// on the Zen 5 development machine two workers first beat one at 64³
// (4.4 → 3.3 µs; BenchmarkSgemmSmall).
const (
	parallelMinFlops  = 1 << 20 // whole product
	perWorkerMinFlops = 1 << 19 // share of each worker
)

// maxTeam bounds the workers of one call.
const maxTeam = 64

// call is the state of one Sgemm call shared by its workers. The workers
// own the cells of a rows×cols grid over C and never wait for each other:
// each packs the parts of op(A) and op(B) its cell needs. Packing is cheap
// next to the multiply (about 10 FMA times per element), so duplicating
// it costs a few percent, much less than synchronising on shared packed
// blocks would (see plan).
type call struct {
	p        problem
	kern     *kernel
	nth      int // workers = gridRows × gridCols
	gridRows int
	gridCols int
	ws       [maxTeam]*workspace
	team     teamScratch
}

var callPool = sync.Pool{New: func() any { return new(call) }}

// run computes the product with at most maxThreads workers.
func (p *problem) run(maxThreads int) { p.runTeam(maxThreads, false) }

// runForced computes the product with maxThreads workers even when it is
// too small to be worth splitting (for tests and benchmarks).
func (p *problem) runForced(maxThreads int) { p.runTeam(maxThreads, true) }

// runTeam is run, with the size thresholds optionally ignored.
func (p *problem) runTeam(maxThreads int, force bool) {
	if p.m == 0 || p.n == 0 {
		return
	}
	if p.k == 0 || p.alpha == 0 {
		scaleC(p.m, p.n, p.beta, p.c, p.ldc)
		return
	}
	kern := currentKernel()
	nth := min(maxThreads, maxTeam)
	if flops := 2 * float64(p.m) * float64(p.n) * float64(p.k); !force {
		nth = min(nth, int(flops/perWorkerMinFlops))
		if flops < parallelMinFlops {
			nth = 1
		}
	}
	if nth <= 1 {
		ws := getWorkspace()
		p.serial(kern, ws)
		putWorkspace(ws)
		return
	}
	cl := callPool.Get().(*call)
	cl.p, cl.kern = *p, kern
	cl.gridRows, cl.gridCols = plan(kern, p.m, p.n, p.k, nth)
	cl.nth = cl.gridRows * cl.gridCols
	for t := 0; t < cl.nth; t++ {
		cl.ws[t] = getWorkspace()
	}
	runTeam(cl, cl.nth, &cl.team)
	for t := 0; t < cl.nth; t++ {
		putWorkspace(cl.ws[t])
		cl.ws[t] = nil
	}
	cl.p = problem{}
	callPool.Put(cl)
}

// Relative costs for plan, in units of one FMA on one float32: packing an
// element (about 0.1 ns on Zen 5, an FMA lane about 0.01 ns).
const packCost = 10

// plan chooses a rows×cols grid of at most nth workers for an m×n×k
// product, minimising the estimated time of the slowest cell: its FMAs
// (cells are whole register tiles, so uneven splits cost idle lanes) plus
// the packing it does (its rows of op(A) once per column block of nc, its
// columns of op(B) once).
func plan(kern *kernel, m, n, k, nth int) (rows, cols int) {
	mPanels, nPanels := ceilDiv(m, kern.mr), ceilDiv(n, kern.nr)
	best := -1.0
	for r := 1; r <= nth; r++ {
		c := nth / r
		if r > mPanels || c > nPanels {
			continue
		}
		mt := ceilDiv(mPanels, r) * kern.mr
		nt := ceilDiv(nPanels, c) * kern.nr
		cost := float64(mt)*float64(nt)*float64(k) +
			packCost*(float64(mt)*float64(k)*float64(ceilDiv(nt, kern.nc))+float64(nt)*float64(k))
		if best < 0 || cost < best {
			best, rows, cols = cost, r, c
		}
	}
	if best < 0 {
		return 1, 1
	}
	return rows, cols
}

// runWorker computes worker tid's cell of the grid.
func (cl *call) runWorker(tid int) {
	p, kern := &cl.p, cl.kern
	r0, r1 := span(ceilDiv(p.m, kern.mr), cl.gridRows, tid/cl.gridCols)
	c0, c1 := span(ceilDiv(p.n, kern.nr), cl.gridCols, tid%cl.gridCols)
	cell := p.sub(r0*kern.mr, min(r1*kern.mr, p.m), c0*kern.nr, min(c1*kern.nr, p.n))
	cell.serial(kern, cl.ws[tid])
}

// sub returns the product restricted to rows [i0, i1) and columns [j0, j1)
// of C.
func (p *problem) sub(i0, i1, j0, j1 int) problem {
	q := *p
	q.m, q.n = i1-i0, j1-j0
	if p.transA {
		q.a = p.a[i0:]
	} else {
		q.a = p.a[i0*p.lda:]
	}
	if p.transB {
		q.b = p.b[j0*p.ldb:]
	} else {
		q.b = p.b[j0:]
	}
	q.c = p.c[i0*p.ldc+j0:]
	return q
}

// serial computes the whole product on the calling goroutine with the
// Goto/BLIS loop nest: for each kc×nc block of op(B), pack it; for each
// mc×kc block of op(A), pack it and sweep the micro-kernel over the
// mc×nc block of C. The first kc block applies beta, later ones add.
func (p *problem) serial(kern *kernel, ws *workspace) {
	mc := evenBlock(p.m, kern.mc, kern.mr)
	kc := evenBlock(p.k, kern.kc, 1)
	nc := evenBlock(p.n, kern.nc, kern.nr)
	ws.a = grow(ws.a, mc*kc)
	ws.b = grow(ws.b, kc*nc)
	ws.tile = grow(ws.tile, kern.mr*kern.nr)
	for jc := 0; jc < p.n; jc += nc {
		ncur := min(nc, p.n-jc)
		for pc := 0; pc < p.k; pc += kc {
			kcur := min(kc, p.k-pc)
			packB(p.transB, p.b, p.ldb, pc, jc, kcur, ncur, kern.nr, ws.b)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := 0; ic < p.m; ic += mc {
				mcur := min(mc, p.m-ic)
				packA(p.transA, p.a, p.lda, ic, pc, mcur, kcur, kern.mr, ws.a)
				macroKernel(kern, mcur, ncur, kcur, p.alpha, beta, ws.a, ws.b, p.c[ic*p.ldc+jc:], p.ldc, ws.tile)
			}
		}
	}
}

// macroKernel multiplies a packed mc×kc block of A by a packed kc×nc block
// of B into C (row stride ldc), one micro-tile at a time. The B micro-panel
// of the outer loop stays in L1/L2 while the A micro-panels stream from
// L2. Partial-width tiles go to the kernel's edge routine when it has one;
// other partial tiles are computed into tile and merged into C by Go code.
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
			if rows == mr && kern.edge != nil {
				kern.edge(kc, a, b, &c[ir*ldc+jr], ldc, alpha, beta, cols)
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

// span returns the half-open range of the items 0..n-1 that part i of
// parts owns, dealt out in contiguous runs whose sizes differ by at most
// one.
func span(n, parts, i int) (int, int) {
	q, r := n/parts, n%parts
	lo := i*q + min(i, r)
	hi := lo + q
	if i < r {
		hi++
	}
	return lo, hi
}

// evenBlock splits n into the fewest blocks of at most limit and returns
// the block size, rounded up to a multiple of unit: blocks of nearly equal
// size rather than full ones and a small remainder.
func evenBlock(n, limit, unit int) int {
	return roundUp(ceilDiv(n, ceilDiv(n, limit)), unit)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }
