package cuda

import (
	"fmt"

	"github.com/smt-go/smt/pkg/backend"
	cu "github.com/smt-go/smt/pkg/cuda"
)

// Tile sizes of kernels/attention.cu (ATT_BQ, ATT_BK, KV_BK, KV_BQ).
const (
	attBQ = 16
	attBK = 32
	kvBK  = 16
	kvBQ  = 32
)

// attnSuffix picks the kernel instance for head size HD: dims per lane
// 1, 2, 4 or 8.
func attnSuffix(HD int) string {
	switch {
	case HD <= 32:
		return "d1"
	case HD <= 64:
		return "d2"
	case HD <= 128:
		return "d4"
	}
	return "d8"
}

// checkAttn validates s against the buffers.
func checkAttn(op string, s backend.AttnShape, q, k, v *Buf) {
	if s.B <= 0 || s.Tq <= 0 || s.Tk < s.Tq || s.H <= 0 || s.KV <= 0 || s.H%s.KV != 0 || s.HD <= 0 || s.HD > 256 {
		panic(fmt.Sprintf("cuda backend: %s: unsupported shape %+v (need Tk ≥ Tq, KV dividing H, head size ≤ 256)", op, s))
	}
	if s.Start != nil && len(s.Start) < s.B {
		panic(fmt.Sprintf("cuda backend: %s: %d start positions for %d sequences", op, len(s.Start), s.B))
	}
	need(op, "q", q, s.B*s.Tq*s.H*s.HD)
	kvNeed := (s.B-1)*s.KVStride() + s.Tk*s.KV*s.HD
	need(op, "k", k, kvNeed)
	need(op, "v", v, kvNeed)
}

// Attention implements backend.Backend with the fused kernel of
// kernels/attention.cu: one thread block per (sequence, head) and 16
// queries, K/V tiles in shared memory, online softmax, fp32 throughout.
func (be *Backend) Attention(out, lse, q, k, v backend.Buf, s backend.AttnShape) {
	o, l, qs, ks, vs := buf(out), buf(lse), buf(q), buf(k), buf(v)
	checkAttn("Attention", s, qs, ks, vs)
	need("Attention", "out", o, s.B*s.Tq*s.H*s.HD)
	if l != nil {
		need("Attention", "lse", l, s.B*s.H*s.Tq)
	}
	be.enter()
	defer be.exit()
	start := cu.DevicePtr(0)
	if s.Start != nil {
		start = be.putI32("Attention", s.Start[:s.B])
	}
	HD := s.HD
	shared := 4 * (attBK*(HD+1) + attBK*HD + attBQ*HD)
	be.args.Reset().Ptr(o.ptr).Ptr(ptr(l)).Ptr(qs.ptr).Ptr(ks.ptr).Ptr(vs.ptr).Ptr(start).I32(dts(o, l, qs, ks, vs)).
		I32(int32(s.B)).I32(int32(s.Tq)).I32(int32(s.Tk)).I32(int32(s.H)).I32(int32(s.KV)).I32(int32(HD)).
		I64(int64(s.KVStride())).F32(s.Scale)
	be.launch("Attention", "smt_attn_fwd_"+attnSuffix(HD), cu.Dim3{X: s.B * s.H, Y: (s.Tq + attBQ - 1) / attBQ}, cu.Dim3{X: 128}, shared)
}

// AttentionBackward implements backend.Backend with three kernels:
// Di = dO·O per query, then dq over query tiles and dk, dv over key tiles,
// each recomputing the probabilities from q, k and lse. Every output
// element has one writer: no atomics, deterministic results.
func (be *Backend) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse backend.Buf, s backend.AttnShape) {
	dqs, dks, dvs, dos := buf(dq), buf(dk), buf(dv), buf(dout)
	qs, ks, vs, os, ls := buf(q), buf(k), buf(v), buf(out), buf(lse)
	checkAttn("AttentionBackward", s, qs, ks, vs)
	nq := s.B * s.Tq * s.H * s.HD
	need("AttentionBackward", "dq", dqs, nq)
	need("AttentionBackward", "dout", dos, nq)
	need("AttentionBackward", "out", os, nq)
	need("AttentionBackward", "lse", ls, s.B*s.H*s.Tq)
	kvNeed := (s.B-1)*s.KVStride() + s.Tk*s.KV*s.HD
	need("AttentionBackward", "dk", dks, kvNeed)
	need("AttentionBackward", "dv", dvs, kvNeed)
	be.enter()
	defer be.exit()
	start := cu.DevicePtr(0)
	if s.Start != nil {
		start = be.putI32("AttentionBackward", s.Start[:s.B])
	}
	HD, rows := s.HD, s.B*s.Tq*s.H
	di := be.arena.take(4 * rows)
	be.args.Reset().Ptr(di).Ptr(dos.ptr).Ptr(os.ptr).I32(dts(dos, os)).I32(int32(s.B)).I32(int32(s.Tq)).I32(int32(s.H)).I32(int32(HD))
	be.launch("AttentionBackward", "smt_attn_bwd_prep", cu.Dim3{X: (rows + 3) / 4}, cu.Dim3{X: 128}, 0)

	suf := attnSuffix(HD)
	// dq
	shared := 4 * (2*attBK*(HD+1) + 2*attBQ*HD)
	be.args.Reset().Ptr(dqs.ptr).Ptr(qs.ptr).Ptr(ks.ptr).Ptr(vs.ptr).Ptr(dos.ptr).Ptr(ls.ptr).Ptr(di).Ptr(start).
		I32(dts(dqs, qs, ks, vs, dos, ls)).
		I32(int32(s.B)).I32(int32(s.Tq)).I32(int32(s.Tk)).I32(int32(s.H)).I32(int32(s.KV)).I32(int32(HD)).
		I64(int64(s.KVStride())).F32(s.Scale)
	be.launch("AttentionBackward", "smt_attn_bwd_dq_"+suf, cu.Dim3{X: s.B * s.H, Y: (s.Tq + attBQ - 1) / attBQ}, cu.Dim3{X: 128}, shared)
	// dk, dv
	shared = 4 * (2*kvBK*HD + 2*kvBQ*(HD+1) + 2*kvBQ)
	be.args.Reset().Ptr(dks.ptr).Ptr(dvs.ptr).Ptr(qs.ptr).Ptr(ks.ptr).Ptr(vs.ptr).Ptr(dos.ptr).Ptr(ls.ptr).Ptr(di).Ptr(start).
		I32(dts(dks, dvs, qs, ks, vs, dos, ls)).
		I32(int32(s.B)).I32(int32(s.Tq)).I32(int32(s.Tk)).I32(int32(s.H)).I32(int32(s.KV)).I32(int32(HD)).
		I64(int64(s.KVStride())).F32(s.Scale)
	be.launch("AttentionBackward", "smt_attn_bwd_dkv_"+suf, cu.Dim3{X: s.B * s.KV, Y: (s.Tk + kvBK - 1) / kvBK}, cu.Dim3{X: 128}, shared)
}
