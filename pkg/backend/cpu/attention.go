package cpu

import (
	"math"

	"github.com/smt-go/smt/pkg/backend"
)

func dot[T Float](a, b []T) T {
	var s0, s1, s2, s3 T
	n := len(a)
	b = b[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy: y += a·x.
func axpy[T Float](a T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// keyRange returns the keys [lo, hi] query i of sequence b attends to.
func keyRange(s backend.AttnShape, b, i int) (lo, hi int) {
	hi = s.Tk - s.Tq + i
	if s.Start != nil {
		lo = int(s.Start[b])
	}
	return lo, hi
}

// Attention implements backend.Backend. The float32 backend computes it
// with batched GEMMs (attention_gemm.go); the float64 reference runs
// attentionRef.
func (be *Backend[T]) Attention(out, lse, q, k, v backend.Buf, s backend.AttnShape) {
	if isF32[T]() && s.Tq > 1 {
		any(be).(*Backend[float32]).attentionGEMM(out, lse, q, k, v, s)
		return
	}
	be.attentionRef(out, lse, q, k, v, s)
}

// AttentionBackward implements backend.Backend (see Attention).
func (be *Backend[T]) AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse backend.Buf, s backend.AttnShape) {
	if isF32[T]() {
		any(be).(*Backend[float32]).attentionBackwardGEMM(dq, dk, dv, dout, q, k, v, out, lse, s)
		return
	}
	be.attentionBackwardRef(dq, dk, dv, dout, q, k, v, out, lse, s)
}

// attentionRef is the direct implementation: one task per (sequence, query
// head), scores kept in a scratch row, softmax with the running maximum.
func (be *Backend[T]) attentionRef(out, lse, q, k, v backend.Buf, s backend.AttnShape) {
	os, ls, qs, ks, vs := Data[T](out), Data[T](lse), Data[T](q), Data[T](k), Data[T](v)
	H, HD, KV := s.H, s.HD, s.KV
	group := H / KV
	kvs := s.KVStride()
	be.parFor(s.B*H, s.Tq*s.Tk*HD, func(lo, hi int) {
		sc := make([]T, s.Tk)
		for task := lo; task < hi; task++ {
			b, h := task/H, task%H
			kh := h / group
			for i := 0; i < s.Tq; i++ {
				qi := qs[((b*s.Tq+i)*H+h)*HD:][:HD]
				oi := os[((b*s.Tq+i)*H+h)*HD:][:HD]
				clear(oi)
				j0, j1 := keyRange(s, b, i)
				if j1 < j0 {
					if ls != nil {
						ls[(b*H+h)*s.Tq+i] = 0
					}
					continue
				}
				mx := T(math.Inf(-1))
				for j := j0; j <= j1; j++ {
					kj := ks[b*kvs+(j*KV+kh)*HD:][:HD]
					x := dot(qi, kj) * T(s.Scale)
					sc[j] = x
					if x > mx {
						mx = x
					}
				}
				var sum T
				for j := j0; j <= j1; j++ {
					e := expT(sc[j] - mx)
					sc[j] = e
					sum += e
				}
				inv := 1 / sum
				for j := j0; j <= j1; j++ {
					axpy(sc[j]*inv, vs[b*kvs+(j*KV+kh)*HD:][:HD], oi)
				}
				if ls != nil {
					ls[(b*H+h)*s.Tq+i] = mx + T(math.Log(float64(sum)))
				}
			}
		}
	})
}

// attentionBackwardRef is the direct backward: one task per (sequence,
// key/value head), so the query heads that share dk and dv run in the same
// task. Probabilities are recomputed from q, k and lse.
func (be *Backend[T]) attentionBackwardRef(dq, dk, dv, dout, q, k, v, out, lse backend.Buf, s backend.AttnShape) {
	dqs, dks, dvs, dos := Data[T](dq), Data[T](dk), Data[T](dv), Data[T](dout)
	qs, ks, vs, os, ls := Data[T](q), Data[T](k), Data[T](v), Data[T](out), Data[T](lse)
	H, HD, KV := s.H, s.HD, s.KV
	group := H / KV
	kvs := s.KVStride()
	scale := T(s.Scale)
	be.parFor(s.B*KV, group*s.Tq*s.Tk*HD*3, func(lo, hi int) {
		p := make([]T, s.Tk)
		for task := lo; task < hi; task++ {
			b, kh := task/KV, task%KV
			for j := 0; j < s.Tk; j++ {
				clear(dks[b*kvs+(j*KV+kh)*HD:][:HD])
				clear(dvs[b*kvs+(j*KV+kh)*HD:][:HD])
			}
			for h := kh * group; h < (kh+1)*group; h++ {
				for i := 0; i < s.Tq; i++ {
					row := ((b*s.Tq+i)*H + h) * HD
					qi, doi, oi, dqi := qs[row:][:HD], dos[row:][:HD], os[row:][:HD], dqs[row:][:HD]
					clear(dqi)
					j0, j1 := keyRange(s, b, i)
					if j1 < j0 {
						continue
					}
					l := ls[(b*H+h)*s.Tq+i]
					di := dot(doi, oi)
					for j := j0; j <= j1; j++ {
						kj := ks[b*kvs+(j*KV+kh)*HD:][:HD]
						p[j] = expT(dot(qi, kj)*scale - l)
					}
					for j := j0; j <= j1; j++ {
						off := b*kvs + (j*KV+kh)*HD
						vj := vs[off:][:HD]
						ds := p[j] * (dot(doi, vj) - di) * scale
						axpy(ds, ks[off:][:HD], dqi)
						axpy(ds, qi, dks[off:][:HD])
						axpy(p[j], doi, dvs[off:][:HD])
					}
				}
			}
		}
	})
}
