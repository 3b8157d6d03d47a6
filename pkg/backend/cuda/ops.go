package cuda

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/smt-go/smt/pkg/backend"
	cu "github.com/smt-go/smt/pkg/cuda"
)

// Embedding implements backend.Backend.
func (be *Backend) Embedding(out, table backend.Buf, ids []int32, D int) {
	o, tb := buf(out), buf(table)
	N := len(ids)
	if N == 0 {
		return
	}
	need("Embedding", "out", o, N*D)
	V := tb.n / D
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			panic(fmt.Sprintf("cuda backend: embedding: token id %d at row %d outside the vocabulary of %d", id, i, V))
		}
	}
	be.enter()
	defer be.exit()
	pids := be.putI32("Embedding", ids)
	be.args.Reset().Ptr(o.ptr).Ptr(tb.ptr).Ptr(pids).I32(dts(o, tb)).I32(int32(N)).I32(int32(D))
	be.launch("Embedding", "smt_embedding", rowGrid(N), cu.Dim3{X: rowBlock(D)}, 0)
}

// EmbeddingBackward implements backend.Backend. The rows are grouped by
// token id on the host, so each table row is summed by one thread block
// in a fixed order: deterministic, without atomics.
func (be *Backend) EmbeddingBackward(dtable, dout backend.Buf, ids []int32, D int) {
	dt, d := buf(dtable), buf(dout)
	N := len(ids)
	if N == 0 {
		return
	}
	need("EmbeddingBackward", "dout", d, N*D)
	V := dt.n / D
	rows := make([]int32, N)
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			panic(fmt.Sprintf("cuda backend: embedding backward: token id %d at row %d outside the vocabulary of %d", id, i, V))
		}
		rows[i] = int32(i)
	}
	slices.SortStableFunc(rows, func(a, b int32) int { return int(ids[a]) - int(ids[b]) })
	// One host array: uniq [U], offs [U+1], rows [N].
	var uniq, offs []int32
	for k, r := range rows {
		if k == 0 || ids[r] != ids[rows[k-1]] {
			uniq = append(uniq, ids[r])
			offs = append(offs, int32(k))
		}
	}
	offs = append(offs, int32(N))
	U := len(uniq)
	host := make([]int32, 0, 2*U+1+N)
	host = append(append(append(host, uniq...), offs...), rows...)
	be.enter()
	defer be.exit()
	p := be.putI32("EmbeddingBackward", host)
	block := rowBlock(D)
	be.args.Reset().Ptr(dt.ptr).Ptr(d.ptr).Ptr(p).Ptr(p + cu.DevicePtr(4*U)).Ptr(p + cu.DevicePtr(4*(2*U+1))).
		I32(dts(dt, d)).I32(int32(U)).I32(int32(D))
	be.launch("EmbeddingBackward", "smt_embedding_bwd", cu.Dim3{X: min(U, 1<<30), Y: (D + block - 1) / block}, cu.Dim3{X: block}, 0)
}

// RMSNorm implements backend.Backend. When out is bf16, x·rstd is rounded
// to bf16 before the multiplication by w, as Hugging Face computes it.
func (be *Backend) RMSNorm(out, rstd, x, w backend.Buf, N, D int, eps float32) {
	o, r, xs, ws := buf(out), buf(rstd), buf(x), buf(w)
	if N == 0 {
		return
	}
	need("RMSNorm", "out", o, N*D)
	need("RMSNorm", "x", xs, N*D)
	need("RMSNorm", "w", ws, D)
	if r != nil {
		need("RMSNorm", "rstd", r, N)
	}
	be.enter()
	defer be.exit()
	be.args.Reset().Ptr(o.ptr).Ptr(ptr(r)).Ptr(xs.ptr).Ptr(ws.ptr).I32(dts(o, r, xs, ws)).I32(int32(N)).I32(int32(D)).F32(eps)
	be.launch("RMSNorm", "smt_rmsnorm", rowGrid(N), cu.Dim3{X: rowBlock(D)}, 0)
}

// RMSNormBackward implements backend.Backend. The weight gradient is a
// column sum done deterministically in two passes (per-chunk partial sums
// in fp32, then their ordered sum).
func (be *Backend) RMSNormBackward(dx, dw, dout, x, w, rstd backend.Buf, N, D int) {
	dxs, dws, dys, xs, ws, rs := buf(dx), buf(dw), buf(dout), buf(x), buf(w), buf(rstd)
	if N == 0 {
		return
	}
	need("RMSNormBackward", "dx", dxs, N*D)
	need("RMSNormBackward", "dout", dys, N*D)
	need("RMSNormBackward", "x", xs, N*D)
	need("RMSNormBackward", "w", ws, D)
	need("RMSNormBackward", "rstd", rs, N)
	be.enter()
	defer be.exit()
	be.args.Reset().Ptr(dxs.ptr).Ptr(dys.ptr).Ptr(xs.ptr).Ptr(ws.ptr).Ptr(rs.ptr).I32(dts(dxs, dys, xs, ws, rs)).I32(int32(N)).I32(int32(D))
	be.launch("RMSNormBackward", "smt_rmsnorm_bwd_dx", rowGrid(N), cu.Dim3{X: rowBlock(D)}, 0)
	if dws == nil {
		return
	}
	need("RMSNormBackward", "dw", dws, D)
	per := max(32, (N+65534)/65535)
	chunks := (N + per - 1) / per
	partial := be.arena.take(4 * chunks * D)
	block := rowBlock(D)
	be.args.Reset().Ptr(partial).Ptr(dys.ptr).Ptr(xs.ptr).Ptr(rs.ptr).I32(dts(dys, xs, rs)).I32(int32(N)).I32(int32(D)).I32(int32(per))
	be.launch("RMSNormBackward", "smt_rmsnorm_bwd_dw_partial", cu.Dim3{X: (D + block - 1) / block, Y: chunks}, cu.Dim3{X: block}, 0)
	be.args.Reset().Ptr(dws.ptr).Ptr(partial).I32(dts(dws)).I32(int32(chunks)).I32(int32(D))
	be.elementwise("RMSNormBackward", "smt_rmsnorm_bwd_dw_reduce", D)
}

// RoPE implements backend.Backend.
func (be *Backend) RoPE(x backend.Buf, pos []int32, cos, sin backend.Buf, N, nh, HD int, inverse bool) {
	xs, cs, sn := buf(x), buf(cos), buf(sin)
	if N == 0 {
		return
	}
	need("RoPE", "x", xs, N*nh*HD)
	if len(pos) < N {
		panic(fmt.Sprintf("cuda backend: RoPE: %d positions for %d rows", len(pos), N))
	}
	half := HD / 2
	maxPos := min(cs.n, sn.n) / half
	for i, p := range pos[:N] {
		if p < 0 || int(p) >= maxPos {
			panic(fmt.Sprintf("cuda backend: RoPE: position %d at row %d outside the table of %d", p, i, maxPos))
		}
	}
	be.enter()
	defer be.exit()
	pp := be.putI32("RoPE", pos[:N])
	inv := int32(0)
	if inverse {
		inv = 1
	}
	be.args.Reset().Ptr(xs.ptr).Ptr(pp).Ptr(cs.ptr).Ptr(sn.ptr).I32(dts(xs, cs, sn)).I32(int32(N)).I32(int32(nh)).I32(int32(HD)).I32(inv)
	be.elementwise("RoPE", "smt_rope", N*nh*half)
}

// SwiGLU implements backend.Backend.
func (be *Backend) SwiGLU(out, gate, up backend.Buf, n int) {
	o, g, u := buf(out), buf(gate), buf(up)
	if n == 0 {
		return
	}
	need("SwiGLU", "out", o, n)
	need("SwiGLU", "gate", g, n)
	need("SwiGLU", "up", u, n)
	be.enter()
	defer be.exit()
	be.args.Reset().Ptr(o.ptr).Ptr(g.ptr).Ptr(u.ptr).I32(dts(o, g, u)).I64(int64(n))
	be.elementwise("SwiGLU", "smt_swiglu", n)
}

// SwiGLUBackward implements backend.Backend.
func (be *Backend) SwiGLUBackward(dgate, dup, dout, gate, up backend.Buf, n int) {
	dg, du, do, g, u := buf(dgate), buf(dup), buf(dout), buf(gate), buf(up)
	if n == 0 {
		return
	}
	for _, c := range []struct {
		name string
		b    *Buf
	}{{"dgate", dg}, {"dup", du}, {"dout", do}, {"gate", g}, {"up", u}} {
		need("SwiGLUBackward", c.name, c.b, n)
	}
	be.enter()
	defer be.exit()
	be.args.Reset().Ptr(dg.ptr).Ptr(du.ptr).Ptr(do.ptr).Ptr(g.ptr).Ptr(u.ptr).I32(dts(dg, du, do, g, u)).I64(int64(n))
	be.elementwise("SwiGLUBackward", "smt_swiglu_bwd", n)
}

func (be *Backend) binary(op, kernel string, out, a, b backend.Buf, n int) {
	o, as, bs := buf(out), buf(a), buf(b)
	if n == 0 {
		return
	}
	need(op, "out", o, n)
	need(op, "a", as, n)
	need(op, "b", bs, n)
	be.enter()
	defer be.exit()
	be.args.Reset().Ptr(o.ptr).Ptr(as.ptr).Ptr(bs.ptr).I32(dts(o, as, bs)).I64(int64(n))
	be.elementwise(op, kernel, n)
}

// Add implements backend.Backend.
func (be *Backend) Add(out, a, b backend.Buf, n int) { be.binary("Add", "smt_add", out, a, b, n) }

// AddAbs implements backend.Backend.
func (be *Backend) AddAbs(out, a, b backend.Buf, n int) {
	be.binary("AddAbs", "smt_addabs", out, a, b, n)
}

// Cast implements backend.Backend (rounding to nearest even when
// narrowing).
func (be *Backend) Cast(dst, src backend.Buf, n int) {
	d, s := buf(dst), buf(src)
	if n == 0 {
		return
	}
	need("Cast", "dst", d, n)
	need("Cast", "src", s, n)
	be.enter()
	defer be.exit()
	if d.dt == s.dt {
		be.must("Cast", be.drv.MemcpyDtoDAsync(d.ptr, s.ptr, n*d.dt.Size(), be.st))
		return
	}
	be.args.Reset().Ptr(d.ptr).Ptr(s.ptr).I32(dts(d, s)).I64(int64(n))
	be.elementwise("Cast", "smt_cast", n)
}

// Scale implements backend.Backend.
func (be *Backend) Scale(x backend.Buf, s float32, n int) {
	xs := buf(x)
	if n == 0 {
		return
	}
	need("Scale", "x", xs, n)
	be.enter()
	defer be.exit()
	be.args.Reset().Ptr(xs.ptr).F32(s).I32(dts(xs)).I64(int64(n))
	be.elementwise("Scale", "smt_scale", n)
}

// SumSquares implements backend.Backend: fp64 partial sums per thread
// block, added on the host in order (deterministic).
func (be *Backend) SumSquares(x backend.Buf, n int) float64 {
	xs := buf(x)
	if n == 0 {
		return 0
	}
	need("SumSquares", "x", xs, n)
	be.enter()
	defer be.exit()
	grid := be.gridFor(n, 256)
	partial := be.arena.take(8 * grid.X)
	be.args.Reset().Ptr(partial).Ptr(xs.ptr).I32(dts(xs)).I64(int64(n))
	be.launch("SumSquares", "smt_sumsq", grid, cu.Dim3{X: 256}, 0)
	host := make([]float64, grid.X)
	be.getBytes("SumSquares", unsafe.Pointer(&host[0]), partial, 8*grid.X)
	var s float64
	for _, v := range host {
		s += v
	}
	return s
}

// CrossEntropy implements backend.Backend.
func (be *Backend) CrossEntropy(logits backend.Buf, targets []int32, N, V int, gradScale float32, losses []float32) {
	l := buf(logits)
	if N == 0 {
		return
	}
	need("CrossEntropy", "logits", l, N*V)
	if len(targets) < N || len(losses) < N {
		panic(fmt.Sprintf("cuda backend: cross-entropy: %d targets and %d losses for %d rows", len(targets), len(losses), N))
	}
	for i, t := range targets[:N] {
		if int(t) >= V {
			panic(fmt.Sprintf("cuda backend: cross-entropy: target %d at row %d outside the vocabulary of %d", t, i, V))
		}
	}
	be.enter()
	defer be.exit()
	pt := be.putI32("CrossEntropy", targets[:N])
	pl := be.arena.take(4 * N)
	be.args.Reset().Ptr(l.ptr).Ptr(pt).Ptr(pl).I32(dts(l)).I32(int32(N)).I32(int32(V)).F32(gradScale)
	be.launch("CrossEntropy", "smt_cross_entropy", rowGrid(N), cu.Dim3{X: rowBlock(V)}, 0)
	be.getBytes("CrossEntropy", unsafe.Pointer(&losses[0]), pl, 4*N)
}

// Argmax implements backend.Backend.
func (be *Backend) Argmax(x backend.Buf, N, V int) []int32 {
	xs := buf(x)
	out := make([]int32, N)
	if N == 0 {
		return out
	}
	need("Argmax", "x", xs, N*V)
	be.enter()
	defer be.exit()
	po := be.arena.take(4 * N)
	be.args.Reset().Ptr(po).Ptr(xs.ptr).I32(dts(xs)).I32(int32(N)).I32(int32(V))
	be.launch("Argmax", "smt_argmax", rowGrid(N), cu.Dim3{X: rowBlock(V)}, 0)
	be.getBytes("Argmax", unsafe.Pointer(&out[0]), po, 4*N)
	return out
}

// AdamWStep implements backend.Backend with PyTorch's formula; the bias
// corrections are computed on the host in float64, as the CPU backend does.
func (be *Backend) AdamWStep(p, g, m, v backend.Buf, n int, h backend.AdamW) {
	ps, gs, ms, vs := buf(p), buf(g), buf(m), buf(v)
	if n == 0 {
		return
	}
	for _, c := range []struct {
		name string
		b    *Buf
	}{{"p", ps}, {"g", gs}, {"m", ms}, {"v", vs}} {
		need("AdamWStep", c.name, c.b, n)
	}
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(h.Step))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(h.Step))
	stepSize := float32(float64(h.LR) / bc1)
	bc2s := float32(math.Sqrt(bc2))
	decay := float32(1 - float64(h.LR)*float64(h.WeightDecay))
	be.enter()
	defer be.exit()
	be.args.Reset().Ptr(ps.ptr).Ptr(gs.ptr).Ptr(ms.ptr).Ptr(vs.ptr).I32(dts(ps, gs, ms, vs)).I64(int64(n)).
		F32(h.Beta1).F32(h.Beta2).F32(stepSize).F32(bc2s).F32(decay).F32(h.Eps)
	be.elementwise("AdamWStep", "smt_adamw", n)
}

// blockArgs checks a block table and copies its rows and columns to the
// arena ([k] rows then [k] columns).
func (be *Backend) blockArgs(op string, w *Buf, t backend.BlockTable) (rows, cols cu.DevicePtr) {
	k, S := t.Len(), t.Size
	if len(t.Cols) != k || S <= 0 || t.Out%S != 0 || t.In%S != 0 {
		panic(fmt.Sprintf("cuda backend: %s: bad block table (%d rows, %d cols, size %d, %d×%d)", op, k, len(t.Cols), S, t.Out, t.In))
	}
	need(op, "w", w, t.Out*t.In)
	host := make([]int32, 2*k)
	for i := 0; i < k; i++ {
		r, c := t.Rows[i], t.Cols[i]
		if r < 0 || int(r) >= t.Out/S || c < 0 || int(c) >= t.In/S {
			panic(fmt.Sprintf("cuda backend: %s: block (%d, %d) outside the %d×%d grid", op, r, c, t.Out/S, t.In/S))
		}
		host[i], host[k+i] = r, c
	}
	p := be.putI32(op, host)
	return p, p + cu.DevicePtr(4*k)
}

// GatherBlocks implements backend.Backend.
func (be *Backend) GatherBlocks(dst, w backend.Buf, t backend.BlockTable) {
	d, ws := buf(dst), buf(w)
	k, S := t.Len(), t.Size
	if k == 0 {
		return
	}
	need("GatherBlocks", "dst", d, k*S*S)
	be.enter()
	defer be.exit()
	rows, cols := be.blockArgs("GatherBlocks", ws, t)
	be.args.Reset().Ptr(d.ptr).Ptr(ws.ptr).Ptr(rows).Ptr(cols).I32(dts(d, ws)).I32(int32(S)).I64(int64(t.In))
	be.launch("GatherBlocks", "smt_gather_blocks", cu.Dim3{X: S, Y: k}, cu.Dim3{X: rowBlock(S)}, 0)
}

// ScatterBlocks implements backend.Backend.
func (be *Backend) ScatterBlocks(w, src backend.Buf, t backend.BlockTable) {
	ws, s := buf(w), buf(src)
	k, S := t.Len(), t.Size
	if k == 0 {
		return
	}
	need("ScatterBlocks", "src", s, k*S*S)
	be.enter()
	defer be.exit()
	rows, cols := be.blockArgs("ScatterBlocks", ws, t)
	be.args.Reset().Ptr(ws.ptr).Ptr(s.ptr).Ptr(rows).Ptr(cols).I32(dts(ws, s)).I32(int32(S)).I64(int64(t.In))
	be.launch("ScatterBlocks", "smt_scatter_blocks", cu.Dim3{X: S, Y: k}, cu.Dim3{X: rowBlock(S)}, 0)
}
