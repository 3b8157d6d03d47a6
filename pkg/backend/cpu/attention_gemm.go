package cpu

import (
	"math"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/gemm"
)

// Attention with batched GEMMs, for the float32 backend. The work is cut
// into units (sequence b, key/value head kh), each with its group of
// H/KV query heads; a chunk of consecutive units is processed at a time so
// that the score matrices [Tq, Tk] of a chunk fit a bounded scratch.
// Within a chunk, item (u, g) is query head kh·group+g of unit u, and its
// scores start at ((u·group+g)·Tq·Tk) in the scratch. Causal and
// left-padding masks are applied to whole score rows after the products
// (the masked part of the products is wasted work, done at GEMM speed).

// chunkScores bounds a chunk's score matrix to this many floats.
const chunkScores = 8 << 20

type attnPlan struct {
	s                    backend.AttnShape
	group, kvs, unitSize int
	qld, kvld            int // leading dimensions: H·HD and KV·HD
	unitsPerChunk        int
}

func newAttnPlan(s backend.AttnShape) attnPlan {
	p := attnPlan{s: s, group: s.H / s.KV, kvs: s.KVStride(), qld: s.H * s.HD, kvld: s.KV * s.HD}
	p.unitSize = p.group * s.Tq * s.Tk
	p.unitsPerChunk = max(1, chunkScores/p.unitSize)
	return p
}

// offsets fills, for the items of units [u0, u1) whose head index within
// the group is in gs (all heads when gs is nil), the offsets of q rows (and
// out/dout/dq), of k/v rows, and of the scores.
func (p attnPlan) offsets(u0, u1 int, gs []int, offQ, offKV, offS []int) ([]int, []int, []int) {
	offQ, offKV, offS = offQ[:0], offKV[:0], offS[:0]
	s := p.s
	for u := u0; u < u1; u++ {
		b, kh := u/s.KV, u%s.KV
		add := func(g int) {
			h := kh*p.group + g
			offQ = append(offQ, b*s.Tq*p.qld+h*s.HD)
			offKV = append(offKV, b*p.kvs+kh*s.HD)
			offS = append(offS, ((u-u0)*p.group+g)*s.Tq*s.Tk)
		}
		if gs == nil {
			for g := 0; g < p.group; g++ {
				add(g)
			}
		} else {
			for _, g := range gs {
				add(g)
			}
		}
	}
	return offQ, offKV, offS
}

// rowRange returns the keys [lo, hi] of query row i of unit u.
func (p attnPlan) rowRange(u, i int) (int, int) {
	return keyRange(p.s, u/p.s.KV, i)
}

func (be *Backend[T]) attentionGEMM(out, lse, q, k, v backend.Buf, s backend.AttnShape) {
	os, ls, qs, ks, vs := Data[float32](out), Data[float32](lse), Data[float32](q), Data[float32](k), Data[float32](v)
	p := newAttnPlan(s)
	units := s.B * s.KV
	sc := be.scratchBuf(0, min(units, p.unitsPerChunk)*p.unitSize)
	var offQ, offKV, offS []int
	for u0 := 0; u0 < units; u0 += p.unitsPerChunk {
		u1 := min(units, u0+p.unitsPerChunk)
		offQ, offKV, offS = p.offsets(u0, u1, nil, offQ, offKV, offS)
		gemm.SgemmBatched(false, true, s.Tq, s.Tk, s.HD, s.Scale, qs, p.qld, offQ, ks, p.kvld, offKV, 0, sc, s.Tk, offS)
		rows := (u1 - u0) * p.group * s.Tq
		be.parFor(rows, 3*s.Tk, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				item, i := r/s.Tq, r%s.Tq
				u := u0 + item/p.group
				h := (u%s.KV)*p.group + item%p.group
				b := u / s.KV
				row := sc[r*s.Tk : (r+1)*s.Tk]
				j0, j1 := p.rowRange(u, i)
				l := float32(0)
				if j1 >= j0 {
					mx := float32(math.Inf(-1))
					for _, x := range row[j0 : j1+1] {
						mx = max(mx, x)
					}
					sum := ExpSubSum(row[j0:j1+1], mx)
					inv := 1 / sum
					for j := j0; j <= j1; j++ {
						row[j] *= inv
					}
					l = mx + float32(math.Log(float64(sum)))
				}
				clear(row[:max(j0, 0)])
				if j1+1 < s.Tk {
					clear(row[max(j1+1, 0):])
				}
				if ls != nil {
					ls[(b*s.H+h)*s.Tq+i] = l
				}
			}
		})
		gemm.SgemmBatched(false, false, s.Tq, s.HD, s.Tk, 1, sc, s.Tk, offS, vs, p.kvld, offKV, 0, os, p.qld, offQ)
	}
}

func (be *Backend[T]) attentionBackwardGEMM(dq, dk, dv, dout, q, k, v, out, lse backend.Buf, s backend.AttnShape) {
	dqs, dks, dvs, dos := Data[float32](dq), Data[float32](dk), Data[float32](dv), Data[float32](dout)
	qs, ks, vs, os, ls := Data[float32](q), Data[float32](k), Data[float32](v), Data[float32](out), Data[float32](lse)
	p := newAttnPlan(s)
	for b := 0; b < s.B; b++ {
		for j := 0; j < s.Tk; j++ {
			clear(dks[b*p.kvs+j*p.kvld:][:p.kvld])
			clear(dvs[b*p.kvs+j*p.kvld:][:p.kvld])
		}
	}
	units := s.B * s.KV
	n := min(units, p.unitsPerChunk) * p.unitSize
	P, dS := be.scratchBuf(0, n), be.scratchBuf(1, n)
	var offQ, offKV, offS []int
	gs := make([]int, 1)
	for u0 := 0; u0 < units; u0 += p.unitsPerChunk {
		u1 := min(units, u0+p.unitsPerChunk)
		offQ, offKV, offS = p.offsets(u0, u1, nil, offQ, offKV, offS)
		// Scores again, and dP = dO·Vᵀ.
		gemm.SgemmBatched(false, true, s.Tq, s.Tk, s.HD, s.Scale, qs, p.qld, offQ, ks, p.kvld, offKV, 0, P, s.Tk, offS)
		gemm.SgemmBatched(false, true, s.Tq, s.Tk, s.HD, 1, dos, p.qld, offQ, vs, p.kvld, offKV, 0, dS, s.Tk, offS)
		rows := (u1 - u0) * p.group * s.Tq
		be.parFor(rows, 4*s.Tk, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				item, i := r/s.Tq, r%s.Tq
				u := u0 + item/p.group
				h := (u%s.KV)*p.group + item%p.group
				b := u / s.KV
				pr, dr := P[r*s.Tk:(r+1)*s.Tk], dS[r*s.Tk:(r+1)*s.Tk]
				j0, j1 := p.rowRange(u, i)
				if j1 < j0 {
					clear(pr)
					clear(dr)
					continue
				}
				qoff := (b*s.Tq+i)*p.qld + h*s.HD
				di := dot(dos[qoff:qoff+s.HD], os[qoff:qoff+s.HD])
				l := ls[(b*s.H+h)*s.Tq+i]
				ExpSubSum(pr[j0:j1+1], l)
				for j := j0; j <= j1; j++ {
					dr[j] = pr[j] * (dr[j] - di) * s.Scale
				}
				clear(pr[:j0])
				clear(dr[:j0])
				clear(pr[j1+1:])
				clear(dr[j1+1:])
			}
		})
		// dQ = dS·K.
		gemm.SgemmBatched(false, false, s.Tq, s.HD, s.Tk, 1, dS, s.Tk, offS, ks, p.kvld, offKV, 0, dqs, p.qld, offQ)
		// dK += dSᵀ·Q and dV += Pᵀ·dO, one head of each group at a time so
		// that no two items of a call write the same dK, dV rows.
		for g := 0; g < p.group; g++ {
			gs[0] = g
			oq, okv, os2 := p.offsets(u0, u1, gs, nil, nil, nil)
			gemm.SgemmBatched(true, false, s.Tk, s.HD, s.Tq, 1, dS, s.Tk, os2, qs, p.qld, oq, 1, dks, p.kvld, okv)
			gemm.SgemmBatched(true, false, s.Tk, s.HD, s.Tq, 1, P, s.Tk, os2, dos, p.qld, oq, 1, dvs, p.kvld, okv)
		}
	}
}
