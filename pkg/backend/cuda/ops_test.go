package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	cu "github.com/smt-go/smt/pkg/cuda"
	"github.com/smt-go/smt/pkg/cuda/cudatest"
)

// The op tests run every operation on fresh random inputs on the CUDA
// backend and on the CPU float32 backend and compare the results. They run
// on a real GPU when one is found, and otherwise on the stand-in libraries
// (kernels emulated on the CPU, GEMMs by the stand-in cuBLAS's reference
// loop), so CI checks the kernels' logic and the backend's plumbing and a
// GPU machine checks the real thing with the same code:
//
//	SMT_CUDA_TESTS=gpu       require a GPU (fail without one)
//	SMT_CUDA_TESTS=standin   use the stand-ins even when a GPU is present
//	SMT_OPCHECK_OUT=file     also write the per-op table there (TSV)

// engine is the CUDA backend under test and how it runs.
type engine struct {
	be      *Backend
	kind    string // "gpu" or "emulated"
	standin *cudatest.StandIn
}

var (
	gpuOnce sync.Once
	gpuBE   *Backend
	gpuErr  error
)

// openEngine returns the backend the op tests run on.
func openEngine(t *testing.T) engine {
	t.Helper()
	mode := os.Getenv("SMT_CUDA_TESTS")
	if mode != "standin" {
		gpuOnce.Do(func() { gpuBE, gpuErr = New(0) })
		if gpuErr == nil {
			return engine{be: gpuBE, kind: "gpu"}
		}
		if mode == "gpu" {
			t.Fatalf("SMT_CUDA_TESTS=gpu but no GPU: %v", gpuErr)
		}
		t.Logf("no GPU (%v): using the stand-in libraries", firstLine(gpuErr))
	}
	s := cudatest.Open(t)
	be, err := NewWithOptions(0, Options{Load: s.Options()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Error(err)
		}
	})
	return engine{be: be, kind: "emulated", standin: s}
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, ';'); i > 0 {
		return s[:i]
	}
	return s
}

// result is one row of the per-op table.
type result struct {
	op     string
	relErr float64
	bound  float64
}

// harness runs ops on both backends.
type harness struct {
	t       *testing.T
	g       *Backend
	c       *cpu.Backend[float32]
	rng     *rand.Rand
	big     bool
	results []result
}

// pair is one logical tensor on both backends.
type pair struct {
	g, c backend.Buf
	n    int
}

func roundTo(dt backend.DType, v float32) float32 {
	switch dt {
	case backend.BF16:
		return cu.RoundBF16(v)
	case backend.F16:
		return cu.FromF16(cu.F16(v))
	}
	return v
}

// vals uploads values (rounded to dt) to both backends.
func (h *harness) vals(dt backend.DType, v []float32) pair {
	r := make([]float32, len(v))
	for i, x := range v {
		r[i] = roundTo(dt, x)
	}
	p := pair{g: h.g.Alloc(dt, len(v)), c: h.c.Alloc(backend.F32, len(v)), n: len(v)}
	h.g.Upload(p.g, r)
	h.c.Upload(p.c, r)
	return p
}

// rand makes n normal values times scale (never all zero).
func (h *harness) rand(dt backend.DType, n int, scale float64) pair {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(h.rng.NormFloat64() * scale)
	}
	return h.vals(dt, v)
}

func (h *harness) zeros(dt backend.DType, n int) pair {
	return pair{g: h.g.Alloc(dt, n), c: h.c.Alloc(backend.F32, n), n: n}
}

func (h *harness) download(p pair) (g, c []float32) {
	g, c = make([]float32, p.n), make([]float32, p.n)
	h.g.Download(g, p.g)
	h.c.Download(c, p.c)
	return g, c
}

// relErr is ‖g − c‖₂ / ‖c‖₂ (NaN anywhere: +Inf).
func relErr(g, c []float32) float64 {
	var num, den float64
	for i := range c {
		d := float64(g[i]) - float64(c[i])
		num += d * d
		den += float64(c[i]) * float64(c[i])
	}
	if math.IsNaN(num) || math.IsNaN(den) {
		return math.Inf(1)
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// check compares a tensor on both backends.
func (h *harness) check(op string, p pair, bound float64) {
	h.t.Helper()
	g, c := h.download(p)
	h.record(op, relErr(g, c), bound)
}

func (h *harness) checkHost(op string, g, c []float32, bound float64) {
	h.t.Helper()
	h.record(op, relErr(g, c), bound)
}

func (h *harness) record(op string, e, bound float64) {
	h.t.Helper()
	h.results = append(h.results, result{op, e, bound})
	if !(e <= bound) {
		h.t.Errorf("%s: relative error %.3g > %.3g", op, e, bound)
	}
}

// Error bounds: outputs stored in bf16 carry its rounding (2⁻⁹ relative
// per element); fp32 outputs only differ by summation order.
const (
	bBF16 = 1e-2
	bF32  = 1e-4
	bTiny = 1e-5
)

func TestOps(t *testing.T) {
	e := openEngine(t)
	h := &harness{t: t, g: e.be, c: cpu.New32(2), rng: rand.New(rand.NewPCG(7, 11)), big: e.kind == "gpu"}
	t.Logf("backend: %s (%s)", e.be.Name(), e.kind)
	for _, c := range opCases {
		t.Run(c.name, func(t *testing.T) {
			sub := &harness{t: t, g: h.g, c: h.c, rng: h.rng, big: h.big}
			c.run(sub)
			h.results = append(h.results, sub.results...)
		})
	}
	e.be.Sync()
	if e.standin != nil {
		if p := e.standin.Problems(t); len(p) > 0 {
			t.Errorf("the stand-in reported misuse:\n%s", strings.Join(p, "\n"))
		}
	}
	table := formatTable(h.results, e)
	t.Log("\n" + table)
	if out := os.Getenv("SMT_OPCHECK_OUT"); out != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "# %s (%s)\n", e.be.Name(), e.kind)
		for _, r := range h.results {
			fmt.Fprintf(&b, "%s\t%.3g\t%.0e\t%s\n", r.op, r.relErr, r.bound, passFail(r))
		}
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func passFail(r result) string {
	if r.relErr <= r.bound {
		return "ok"
	}
	return "FAIL"
}

func formatTable(rs []result, e engine) string {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].op < rs[j].op })
	w := 10
	for _, r := range rs {
		w = max(w, len(r.op))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CUDA vs CPU float32 on %s (%s)\n", e.be.Name(), e.kind)
	fmt.Fprintf(&b, "%-*s  %10s  %8s  %s\n", w, "op", "rel.err", "bound", "")
	for _, r := range rs {
		fmt.Fprintf(&b, "%-*s  %10.3g  %8.0e  %s\n", w, r.op, r.relErr, r.bound, passFail(r))
	}
	return b.String()
}

type opCase struct {
	name string
	run  func(h *harness)
}

// size picks a test dimension: small for the emulator, larger on a GPU.
func (h *harness) size(small, big int) int {
	if h.big {
		return big
	}
	return small
}

var opCases = []opCase{
	{"Upload", func(h *harness) {
		for _, dt := range []backend.DType{backend.F32, backend.BF16, backend.F16} {
			p := h.rand(dt, 1000, 3)
			h.check("Upload/"+dt.String(), p, 0)
			s := pair{g: h.g.Slice(p.g, 100, 50), c: h.c.Slice(p.c, 100, 50), n: 50}
			h.check("Slice/"+dt.String(), s, 0)
		}
	}},
	{"MatMul", func(h *harness) {
		m, n, k := h.size(19, 384), h.size(23, 512), h.size(37, 1000)
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			ta, tb := tr[0], tr[1]
			name := map[bool]string{false: "N", true: "T"}
			ar, ac := m, k
			if ta {
				ar, ac = k, m
			}
			br, bc := k, n
			if tb {
				br, bc = n, k
			}
			lda, ldb, ldc := ac+3, bc, n+5
			a := h.rand(backend.BF16, ar*lda, 1)
			b := h.rand(backend.BF16, br*ldb, 1)
			c := h.rand(backend.BF16, m*ldc, 1)
			h.g.MatMul(ta, tb, m, n, k, 0.5, a.g, lda, b.g, ldb, 0, c.g, ldc)
			h.c.MatMul(ta, tb, m, n, k, 0.5, a.c, lda, b.c, ldb, 0, c.c, ldc)
			h.check("MatMul/"+name[ta]+name[tb]+"/bf16", c, bBF16)
			// Accumulate into fp32 (a dense weight gradient).
			c32 := h.rand(backend.F32, m*ldc, 1)
			h.g.MatMul(ta, tb, m, n, k, 1, a.g, lda, b.g, ldb, 1, c32.g, ldc)
			h.c.MatMul(ta, tb, m, n, k, 1, a.c, lda, b.c, ldb, 1, c32.c, ldc)
			h.check("MatMul/"+name[ta]+name[tb]+"/bf16→f32+=", c32, bF32)
		}
		a := h.rand(backend.F32, m*k, 1)
		b := h.rand(backend.F32, n*k, 1)
		c := h.zeros(backend.F32, m*n)
		h.g.MatMul(false, true, m, n, k, 1, a.g, k, b.g, k, 0, c.g, n)
		h.c.MatMul(false, true, m, n, k, 1, a.c, k, b.c, k, 0, c.c, n)
		h.check("MatMul/NT/f32", c, bTiny)
		// Mixed operand types take the fp32 slow path.
		b16 := h.rand(backend.BF16, n*k, 1)
		c16 := h.zeros(backend.BF16, m*n)
		h.g.MatMul(false, true, m, n, k, 1, a.g, k, b16.g, k, 0, c16.g, n)
		h.c.MatMul(false, true, m, n, k, 1, a.c, k, b16.c, k, 0, c16.c, n)
		h.check("MatMul/NT/f32×bf16→bf16", c16, bBF16)
	}},
	{"BlockGrad", func(h *harness) {
		S, N := h.size(8, 64), h.size(20, 512)
		out, in := 4*S, 3*S
		dy := h.rand(backend.BF16, N*out, 1)
		x := h.rand(backend.BF16, N*in, 1)
		t := backend.BlockTable{Size: S, Out: out, In: in, Rows: []int32{0, 3, 1, 3, 2}, Cols: []int32{2, 0, 1, 2, 2}}
		xcol := make([]int32, t.Len())
		for i, c := range t.Cols {
			xcol[i] = c * int32(S)
		}
		dst := h.rand(backend.F32, t.Len()*S*S, 1)
		h.g.BlockGrad(dst.g, 0, dy.g, out, x.g, in, N, t, xcol)
		h.c.BlockGrad(dst.c, 0, dy.c, out, x.c, in, N, t, xcol)
		h.check("BlockGrad/beta=0", dst, bF32)
		h.g.BlockGrad(dst.g, 1, dy.g, out, x.g, in, N, t, xcol)
		h.c.BlockGrad(dst.c, 1, dy.c, out, x.c, in, N, t, xcol)
		h.check("BlockGrad/beta=1", dst, bF32)
		// A compacted input holding only columns 2 and 0 (in that order).
		xc := h.rand(backend.BF16, N*2*S, 1)
		t2 := backend.BlockTable{Size: S, Out: out, In: in, Rows: []int32{1, 2}, Cols: []int32{0, 2}}
		xcol2 := []int32{int32(S), 0}
		d2 := h.zeros(backend.F32, 2*S*S)
		h.g.BlockGrad(d2.g, 0, dy.g, out, xc.g, 2*S, N, t2, xcol2)
		h.c.BlockGrad(d2.c, 0, dy.c, out, xc.c, 2*S, N, t2, xcol2)
		h.check("BlockGrad/compact", d2, bF32)
	}},
	{"Embedding", func(h *harness) {
		V, D, N := 50, h.size(24, 512), h.size(30, 700)
		table := h.rand(backend.BF16, V*D, 1)
		ids := make([]int32, N)
		for i := range ids {
			ids[i] = int32(h.rng.IntN(V / 3)) // many repeats
		}
		out := h.zeros(backend.BF16, N*D)
		h.g.Embedding(out.g, table.g, ids, D)
		h.c.Embedding(out.c, table.c, ids, D)
		h.check("Embedding", out, 0)
		dout := h.rand(backend.BF16, N*D, 1)
		dt := h.rand(backend.F32, V*D, 1)
		h.g.EmbeddingBackward(dt.g, dout.g, ids, D)
		h.c.EmbeddingBackward(dt.c, dout.c, ids, D)
		h.check("EmbeddingBackward/f32", dt, bTiny)
	}},
	{"RMSNorm", func(h *harness) {
		N, D := h.size(9, 300), h.size(40, 1024)
		x := h.rand(backend.BF16, N*D, 2)
		w := h.rand(backend.BF16, D, 1)
		out := h.zeros(backend.BF16, N*D)
		rstd := h.zeros(backend.F32, N)
		h.g.RMSNorm(out.g, rstd.g, x.g, w.g, N, D, 1e-5)
		h.c.RMSNorm(out.c, rstd.c, x.c, w.c, N, D, 1e-5)
		h.check("RMSNorm/out", out, bBF16)
		h.check("RMSNorm/rstd", rstd, bTiny)
		out2 := h.zeros(backend.BF16, N*D)
		h.g.RMSNorm(out2.g, nil, x.g, w.g, N, D, 1e-5)
		h.c.RMSNorm(out2.c, nil, x.c, w.c, N, D, 1e-5)
		h.check("RMSNorm/no-rstd", out2, bBF16)
		dout := h.rand(backend.BF16, N*D, 1)
		dx := h.rand(backend.BF16, N*D, 1)
		dw := h.rand(backend.F32, D, 1)
		h.g.RMSNormBackward(dx.g, dw.g, dout.g, x.g, w.g, rstd.g, N, D)
		h.c.RMSNormBackward(dx.c, dw.c, dout.c, x.c, w.c, rstd.c, N, D)
		h.check("RMSNormBackward/dx+=", dx, bBF16)
		h.check("RMSNormBackward/dw+=", dw, bF32)
	}},
	{"RoPE", func(h *harness) {
		N, nh, HD, maxPos := h.size(7, 256), 3, h.size(16, 128), 64
		cos, sin := make([]float32, maxPos*HD/2), make([]float32, maxPos*HD/2)
		for p := 0; p < maxPos; p++ {
			for j := 0; j < HD/2; j++ {
				a := float64(p) * math.Pow(10000, -2*float64(j)/float64(HD))
				cos[p*HD/2+j], sin[p*HD/2+j] = float32(math.Cos(a)), float32(math.Sin(a))
			}
		}
		ct, st := h.vals(backend.BF16, cos), h.vals(backend.BF16, sin)
		pos := make([]int32, N)
		for i := range pos {
			pos[i] = int32(h.rng.IntN(maxPos))
		}
		x := h.rand(backend.BF16, N*nh*HD, 1)
		h.g.RoPE(x.g, pos, ct.g, st.g, N, nh, HD, false)
		h.c.RoPE(x.c, pos, ct.c, st.c, N, nh, HD, false)
		h.check("RoPE", x, bBF16)
		h.g.RoPE(x.g, pos, ct.g, st.g, N, nh, HD, true)
		h.c.RoPE(x.c, pos, ct.c, st.c, N, nh, HD, true)
		h.check("RoPE/inverse", x, bBF16)
	}},
	{"Attention", func(h *harness) { attentionCases(h) }},
	{"SwiGLU", func(h *harness) {
		n := h.size(500, 100000)
		g, u := h.rand(backend.BF16, n, 2), h.rand(backend.BF16, n, 1)
		out := h.zeros(backend.BF16, n)
		h.g.SwiGLU(out.g, g.g, u.g, n)
		h.c.SwiGLU(out.c, g.c, u.c, n)
		h.check("SwiGLU", out, bBF16)
		dout := h.rand(backend.BF16, n, 1)
		dg, du := h.zeros(backend.BF16, n), h.zeros(backend.BF16, n)
		h.g.SwiGLUBackward(dg.g, du.g, dout.g, g.g, u.g, n)
		h.c.SwiGLUBackward(dg.c, du.c, dout.c, g.c, u.c, n)
		h.check("SwiGLUBackward/dgate", dg, bBF16)
		h.check("SwiGLUBackward/dup", du, bBF16)
	}},
	{"Elementwise", func(h *harness) {
		n := h.size(700, 1<<20)
		a, b := h.rand(backend.BF16, n, 1), h.rand(backend.BF16, n, 1)
		out := h.zeros(backend.BF16, n)
		h.g.Add(out.g, a.g, b.g, n)
		h.c.Add(out.c, a.c, b.c, n)
		h.check("Add/bf16", out, bBF16)
		acc := h.rand(backend.F32, n, 1)
		h.g.AddAbs(acc.g, acc.g, b.g, n)
		h.c.AddAbs(acc.c, acc.c, b.c, n)
		h.check("AddAbs/f32+=|bf16|", acc, bTiny)
		h.g.Add(acc.g, acc.g, a.g, n)
		h.c.Add(acc.c, acc.c, a.c, n)
		h.check("Add/f32+=bf16", acc, bTiny)
		f := h.rand(backend.F32, n, 3)
		c16 := h.zeros(backend.BF16, n)
		h.g.Cast(c16.g, f.g, n)
		h.c.Cast(c16.c, f.c, n)
		h.check("Cast/f32→bf16", c16, bBF16)
		c32 := h.zeros(backend.F32, n)
		h.g.Cast(c32.g, a.g, n)
		h.c.Cast(c32.c, a.c, n)
		h.check("Cast/bf16→f32", c32, 0)
		h.g.Scale(a.g, 0.37, n)
		h.c.Scale(a.c, 0.37, n)
		h.check("Scale/bf16", a, bBF16)
		h.g.Scale(f.g, -1.5, n)
		h.c.Scale(f.c, -1.5, n)
		h.check("Scale/f32", f, bTiny)
		gs, cs := h.g.SumSquares(b.g, n), h.c.SumSquares(b.c, n)
		h.record("SumSquares", math.Abs(gs-cs)/cs, 1e-9)
		h.g.Zero(f.g)
		h.c.Zero(f.c)
		h.check("Zero", f, 0)
		rows, cols := h.size(6, 100), h.size(13, 300)
		src := h.rand(backend.BF16, rows*(cols+7), 1)
		dst := h.rand(backend.BF16, rows*(cols+2), 1)
		h.g.Copy2D(dst.g, cols+2, src.g, cols+7, rows, cols)
		h.c.Copy2D(dst.c, cols+2, src.c, cols+7, rows, cols)
		h.check("Copy2D", dst, 0)
	}},
	{"CrossEntropy", func(h *harness) {
		N, V := h.size(9, 64), h.size(300, 32000)
		logits := h.rand(backend.BF16, N*V, 3)
		targets := make([]int32, N)
		for i := range targets {
			targets[i] = int32(h.rng.IntN(V))
		}
		targets[1], targets[N-1] = -100, -1
		gl, cl := make([]float32, N), make([]float32, N)
		h.g.CrossEntropy(logits.g, targets, N, V, 0, gl)
		h.c.CrossEntropy(logits.c, targets, N, V, 0, cl)
		h.checkHost("CrossEntropy/loss", gl, cl, bTiny)
		h.check("CrossEntropy/untouched", logits, 0)
		ga, ca := h.g.Argmax(logits.g, N, V), h.c.Argmax(logits.c, N, V)
		bad := 0
		for i := range ga {
			if ga[i] != ca[i] {
				bad++
			}
		}
		h.record("Argmax", float64(bad)/float64(N), 0)
		h.g.CrossEntropy(logits.g, targets, N, V, 0.25, gl)
		h.c.CrossEntropy(logits.c, targets, N, V, 0.25, cl)
		h.checkHost("CrossEntropy/loss+grad", gl, cl, bTiny)
		h.check("CrossEntropy/grad", logits, bBF16)
		// Ties: the first index wins.
		tie := h.vals(backend.BF16, []float32{1, 5, 5, 2, -1, -1, -1, -1})
		if got := h.g.Argmax(tie.g, 2, 4); got[0] != 1 || got[1] != 0 {
			h.t.Errorf("Argmax with ties = %v, want [1 0]", got)
		}
	}},
	{"AdamWStep", func(h *harness) {
		n := h.size(1000, 1<<20)
		p, g := h.rand(backend.F32, n, 1), h.rand(backend.F32, n, 0.1)
		m, v := h.rand(backend.F32, n, 0.01), h.zeros(backend.F32, n)
		h.g.AddAbs(v.g, v.g, g.g, n) // second moments: positive
		h.c.AddAbs(v.c, v.c, g.c, n)
		h.g.Scale(v.g, 0.01, n)
		h.c.Scale(v.c, 0.01, n)
		for step := 1; step <= 3; step++ {
			hp := backend.AdamW{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.01, Step: step}
			h.g.AdamWStep(p.g, g.g, m.g, v.g, n, hp)
			h.c.AdamWStep(p.c, g.c, m.c, v.c, n, hp)
		}
		h.check("AdamWStep/p", p, bTiny)
		h.check("AdamWStep/m", m, bTiny)
		h.check("AdamWStep/v", v, bTiny)
	}},
	{"Blocks", func(h *harness) {
		S := h.size(8, 256)
		out, in := 3*S, 2*S
		w := h.rand(backend.BF16, out*in, 1)
		t := backend.BlockTable{Size: S, Out: out, In: in, Rows: []int32{2, 0, 1}, Cols: []int32{1, 0, 1}}
		dst := h.zeros(backend.F32, t.Len()*S*S)
		h.g.GatherBlocks(dst.g, w.g, t)
		h.c.GatherBlocks(dst.c, w.c, t)
		h.check("GatherBlocks/bf16→f32", dst, 0)
		src := h.rand(backend.F32, t.Len()*S*S, 1)
		h.g.ScatterBlocks(w.g, src.g, t)
		h.c.ScatterBlocks(w.c, src.c, t)
		h.check("ScatterBlocks/f32→bf16", w, bBF16)
	}},
}

// attentionCases covers training (Tq = Tk), grouped-query heads, a KV
// cache read through a batch stride with left padding, and decoding.
func attentionCases(h *harness) {
	type shape struct {
		name              string
		B, Tq, Tk, H, KV  int
		HD, Tmax          int
		start             []int32
		backward, lseBF16 bool
	}
	shapes := []shape{
		{name: "train", B: 2, Tq: 37, Tk: 37, H: 4, KV: 2, HD: 16, Tmax: 37, backward: true},
		{name: "train/HD=40", B: 1, Tq: 21, Tk: 21, H: 2, KV: 1, HD: 40, Tmax: 21, backward: true, lseBF16: true},
		{name: "cache+start", B: 3, Tq: 5, Tk: 19, H: 4, KV: 4, HD: 8, Tmax: 24, start: []int32{0, 7, 16}, backward: true},
		{name: "decode", B: 2, Tq: 1, Tk: 9, H: 6, KV: 2, HD: 32, Tmax: 12, start: []int32{3, 0}},
	}
	if h.big {
		shapes = append(shapes,
			shape{name: "train/HD=64", B: 2, Tq: 200, Tk: 200, H: 8, KV: 2, HD: 64, Tmax: 200, backward: true},
			shape{name: "train/HD=128", B: 2, Tq: 300, Tk: 300, H: 8, KV: 8, HD: 128, Tmax: 300, backward: true},
			shape{name: "train/HD=256", B: 1, Tq: 130, Tk: 130, H: 4, KV: 1, HD: 256, Tmax: 130, backward: true},
			shape{name: "prefill/HD=128", B: 4, Tq: 77, Tk: 77, H: 8, KV: 2, HD: 128, Tmax: 160, start: []int32{0, 10, 40, 76}},
		)
	}
	for _, s := range shapes {
		as := backend.AttnShape{B: s.B, Tq: s.Tq, Tk: s.Tk, H: s.H, KV: s.KV, HD: s.HD, KVBatchStride: s.Tmax * s.KV * s.HD,
			Start: s.start, Scale: float32(1 / math.Sqrt(float64(s.HD)))}
		nq, nkv := s.B*s.Tq*s.H*s.HD, s.B*s.Tmax*s.KV*s.HD
		q, k, v := h.rand(backend.BF16, nq, 1), h.rand(backend.BF16, nkv, 1), h.rand(backend.BF16, nkv, 1)
		out := h.zeros(backend.BF16, nq)
		ldt := backend.F32
		if s.lseBF16 {
			ldt = backend.BF16
		}
		lse := h.zeros(ldt, s.B*s.H*s.Tq)
		h.g.Attention(out.g, lse.g, q.g, k.g, v.g, as)
		h.c.Attention(out.c, lse.c, q.c, k.c, v.c, as)
		h.check("Attention/"+s.name+"/out", out, bBF16)
		lb := bTiny
		if s.lseBF16 {
			lb = bBF16
		}
		h.check("Attention/"+s.name+"/lse", lse, lb)
		if !s.backward {
			continue
		}
		// Both backends get the same forward results (the CPU's, rounded
		// like the buffers), so the backward is compared alone.
		_, oc := h.download(out)
		_, lc := h.download(lse)
		outS, lseS := h.vals(backend.BF16, oc), h.vals(ldt, lc)
		dout := h.rand(backend.BF16, nq, 1)
		dq := h.zeros(backend.BF16, nq)
		dk, dv := h.rand(backend.BF16, nkv, 1), h.rand(backend.BF16, nkv, 1) // rows ≥ Tk keep their values
		h.g.AttentionBackward(dq.g, dk.g, dv.g, dout.g, q.g, k.g, v.g, outS.g, lseS.g, as)
		h.c.AttentionBackward(dq.c, dk.c, dv.c, dout.c, q.c, k.c, v.c, outS.c, lseS.c, as)
		h.check("AttentionBackward/"+s.name+"/dq", dq, bBF16)
		h.check("AttentionBackward/"+s.name+"/dk", dk, bBF16)
		h.check("AttentionBackward/"+s.name+"/dv", dv, bBF16)
	}
}
