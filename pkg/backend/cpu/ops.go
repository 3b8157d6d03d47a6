package cpu

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/gemm"
)

func isF32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// expT is exp in T's precision: the fast float32 exp for float32, math.Exp
// for float64.
func expT[T Float](x T) T {
	if isF32[T]() {
		return T(Exp32(float32(x)))
	}
	return T(math.Exp(float64(x)))
}

// Embedding implements backend.Backend.
func (be *Backend[T]) Embedding(out, table backend.Buf, ids []int32, D int) {
	o, tb := Data[T](out), Data[T](table)
	V := len(tb) / D
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			panic(fmt.Sprintf("cpu: embedding: token id %d at row %d outside the vocabulary of %d", id, i, V))
		}
		copy(o[i*D:(i+1)*D], tb[int(id)*D:(int(id)+1)*D])
	}
}

// EmbeddingBackward implements backend.Backend.
func (be *Backend[T]) EmbeddingBackward(dtable, dout backend.Buf, ids []int32, D int) {
	dt, d := Data[T](dtable), Data[T](dout)
	for i, id := range ids {
		row := dt[int(id)*D : (int(id)+1)*D]
		for j, g := range d[i*D : (i+1)*D] {
			row[j] += g
		}
	}
}

// RMSNorm implements backend.Backend.
func (be *Backend[T]) RMSNorm(out, rstd, x, w backend.Buf, N, D int, eps float32) {
	o, r, xs, ws := Data[T](out), Data[T](rstd), Data[T](x), Data[T](w)
	be.parFor(N, 3*D, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xi := xs[i*D : (i+1)*D]
			var ss T
			for _, v := range xi {
				ss += v * v
			}
			s := T(1 / math.Sqrt(float64(ss/T(D)+T(eps))))
			if isF32[T]() {
				// float32 rsqrt as PyTorch computes it: 1/sqrt in float32.
				s = T(1 / float32(math.Sqrt(float64(float32(ss/T(D)+T(eps))))))
			}
			if r != nil {
				r[i] = s
			}
			oi := o[i*D : (i+1)*D]
			for j, v := range xi {
				oi[j] = ws[j] * (v * s)
			}
		}
	})
}

// RMSNormBackward implements backend.Backend.
func (be *Backend[T]) RMSNormBackward(dx, dw, dout, x, w, rstd backend.Buf, N, D int) {
	dxs, dws, dys, xs, ws, rs := Data[T](dx), Data[T](dw), Data[T](dout), Data[T](x), Data[T](w), Data[T](rstd)
	nw := be.threads
	if nw > N {
		nw = N
	}
	var partial [][]T
	if dws != nil {
		partial = make([][]T, nw)
	}
	be.parChunks(N, nw, func(chunk, lo, hi int) {
		var pdw []T
		if partial != nil {
			pdw = make([]T, D)
			partial[chunk] = pdw
		}
		for i := lo; i < hi; i++ {
			xi, dyi, dxi := xs[i*D:(i+1)*D], dys[i*D:(i+1)*D], dxs[i*D:(i+1)*D]
			r := rs[i]
			var dot T // Σ_j w_j dy_j x_j
			for j := range xi {
				dot += ws[j] * dyi[j] * xi[j]
			}
			c := dot * r * r * r / T(D)
			for j := range xi {
				dxi[j] += r*ws[j]*dyi[j] - c*xi[j]
			}
			if pdw != nil {
				for j := range xi {
					pdw[j] += dyi[j] * xi[j] * r
				}
			}
		}
	})
	for _, p := range partial {
		for j, v := range p {
			dws[j] += v
		}
	}
}

// parChunks is parFor with exactly nw chunks and the chunk index passed in.
func (be *Backend[T]) parChunks(n, nw int, fn func(chunk, lo, hi int)) {
	if nw <= 1 {
		fn(0, 0, n)
		return
	}
	done := make(chan struct{}, nw)
	for w := 0; w < nw; w++ {
		lo, hi := n*w/nw, n*(w+1)/nw
		go func(w int) {
			fn(w, lo, hi)
			done <- struct{}{}
		}(w)
	}
	for w := 0; w < nw; w++ {
		<-done
	}
}

// RoPE implements backend.Backend.
func (be *Backend[T]) RoPE(x backend.Buf, pos []int32, cos, sin backend.Buf, N, nh, HD int, inverse bool) {
	xs, cs, sn := Data[T](x), Data[T](cos), Data[T](sin)
	half := HD / 2
	be.parFor(N, nh*HD*3, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := int(pos[i])
			c, s := cs[p*half:(p+1)*half], sn[p*half:(p+1)*half]
			for h := 0; h < nh; h++ {
				v := xs[(i*nh+h)*HD : (i*nh+h+1)*HD]
				for j := 0; j < half; j++ {
					a, b := v[j], v[j+half]
					sj := s[j]
					if inverse {
						sj = -sj
					}
					v[j] = a*c[j] - b*sj
					v[j+half] = b*c[j] + a*sj
				}
			}
		}
	})
}

// SwiGLU implements backend.Backend.
func (be *Backend[T]) SwiGLU(out, gate, up backend.Buf, n int) {
	o, g, u := Data[T](out), Data[T](gate), Data[T](up)
	be.parFor(n, 20, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := g[i]
			o[i] = x / (1 + expT(-x)) * u[i]
		}
	})
}

// SwiGLUBackward implements backend.Backend.
func (be *Backend[T]) SwiGLUBackward(dgate, dup, dout, gate, up backend.Buf, n int) {
	dg, du, do, g, u := Data[T](dgate), Data[T](dup), Data[T](dout), Data[T](gate), Data[T](up)
	be.parFor(n, 20, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := g[i]
			sig := 1 / (1 + expT(-x))
			silu := x * sig
			d := do[i]
			du[i] = d * silu
			dg[i] = d * u[i] * sig * (1 + x*(1-sig))
		}
	})
}

// Add implements backend.Backend.
func (be *Backend[T]) Add(out, a, b backend.Buf, n int) {
	o, as, bs := Data[T](out), Data[T](a), Data[T](b)
	be.parFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o[i] = as[i] + bs[i]
		}
	})
}

// Scale implements backend.Backend.
func (be *Backend[T]) Scale(x backend.Buf, s float32, n int) {
	xs := Data[T](x)[:n]
	st := T(s)
	for i := range xs {
		xs[i] *= st
	}
}

// SumSquares implements backend.Backend.
func (be *Backend[T]) SumSquares(x backend.Buf, n int) float64 {
	var s float64
	for _, v := range Data[T](x)[:n] {
		s += float64(v) * float64(v)
	}
	return s
}

// CrossEntropy implements backend.Backend.
func (be *Backend[T]) CrossEntropy(logits backend.Buf, targets []int32, N, V int, gradScale float32, losses []float32) {
	l := Data[T](logits)
	be.parFor(N, 8*V, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := l[i*V : (i+1)*V]
			t := targets[i]
			if t < 0 {
				losses[i] = 0
				if gradScale != 0 {
					clear(row)
				}
				continue
			}
			if int(t) >= V {
				panic(fmt.Sprintf("cpu: cross-entropy: target %d at row %d outside the vocabulary of %d", t, i, V))
			}
			mx := row[0]
			for _, v := range row {
				if v > mx {
					mx = v
				}
			}
			xt := float64(row[t])
			var sum float64
			if gradScale != 0 {
				if r32, ok := any(row).([]float32); ok {
					sum = float64(ExpSubSum(r32, float32(mx))) // row now holds exp(x − max)
				} else {
					for j, v := range row {
						e := expT(v - mx)
						sum += float64(e)
						row[j] = e
					}
				}
				losses[i] = float32(math.Log(sum) + float64(mx) - xt)
				sc := T(float64(gradScale) / sum)
				for j := range row {
					row[j] *= sc
				}
				row[t] -= T(gradScale)
			} else {
				for _, v := range row {
					sum += float64(expT(v - mx))
				}
				losses[i] = float32(math.Log(sum) + float64(mx) - xt)
			}
		}
	})
}

// Argmax implements backend.Backend.
func (be *Backend[T]) Argmax(x backend.Buf, N, V int) []int32 {
	xs := Data[T](x)
	out := make([]int32, N)
	for i := 0; i < N; i++ {
		row := xs[i*V : (i+1)*V]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = int32(best)
	}
	return out
}

// AdamWStep implements backend.Backend, following PyTorch's AdamW: decay,
// moment updates, then p −= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps).
func (be *Backend[T]) AdamWStep(p, g, m, v backend.Buf, n int, h backend.AdamW) {
	ps, gs, ms, vs := Data[T](p)[:n], Data[T](g)[:n], Data[T](m)[:n], Data[T](v)[:n]
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(h.Step))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(h.Step))
	b1, b2 := T(h.Beta1), T(h.Beta2)
	stepSize := T(float64(h.LR) / bc1)
	bc2s := T(math.Sqrt(bc2))
	decay := T(1 - float64(h.LR)*float64(h.WeightDecay))
	eps := T(h.Eps)
	be.parFor(n, 10, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := gs[i]
			pi := ps[i] * decay
			mi := b1*ms[i] + (1-b1)*gi
			vi := b2*vs[i] + (1-b2)*gi*gi
			ms[i], vs[i] = mi, vi
			denom := T(math.Sqrt(float64(vi)))/bc2s + eps
			ps[i] = pi - stepSize*mi/denom
		}
	})
}

// GatherBlocks implements backend.Backend.
func (be *Backend[T]) GatherBlocks(dst, w backend.Buf, t backend.BlockTable) {
	d, ws := Data[T](dst), Data[T](w)
	S := t.Size
	for i := range t.Rows {
		r0, c0 := int(t.Rows[i])*S, int(t.Cols[i])*S
		for r := 0; r < S; r++ {
			copy(d[(i*S+r)*S:(i*S+r+1)*S], ws[(r0+r)*t.In+c0:(r0+r)*t.In+c0+S])
		}
	}
}

// ScatterBlocks implements backend.Backend.
func (be *Backend[T]) ScatterBlocks(w, src backend.Buf, t backend.BlockTable) {
	s, ws := Data[T](src), Data[T](w)
	S := t.Size
	for i := range t.Rows {
		r0, c0 := int(t.Rows[i])*S, int(t.Cols[i])*S
		for r := 0; r < S; r++ {
			copy(ws[(r0+r)*t.In+c0:(r0+r)*t.In+c0+S], s[(i*S+r)*S:(i*S+r+1)*S])
		}
	}
}

// BlockGrad implements backend.Backend: for float32 one batched GEMM over
// all blocks (each dY and X slice read in place), else a product per block.
func (be *Backend[T]) BlockGrad(dst backend.Buf, beta float32, dy backend.Buf, ldy int, x backend.Buf, ldx int, N int, t backend.BlockTable, xcol []int32) {
	S := t.Size
	d, dys, xs := Data[T](dst), Data[T](dy), Data[T](x)
	if isF32[T]() {
		offA, offB, offC := make([]int, t.Len()), make([]int, t.Len()), make([]int, t.Len())
		for i := range t.Rows {
			offA[i], offB[i], offC[i] = int(t.Rows[i])*S, int(xcol[i]), i*S*S
		}
		gemm.SgemmBatched(true, false, S, S, N, 1, any(dys).([]float32), ldy, offA, any(xs).([]float32), ldx, offB, beta, any(d).([]float32), S, offC)
		return
	}
	for i := range t.Rows {
		a := Wrap(dys[int(t.Rows[i])*S:])
		b := Wrap(xs[int(xcol[i]):])
		c := Wrap(d[i*S*S : (i+1)*S*S])
		be.MatMul(true, false, S, S, N, 1, a, ldy, b, ldx, beta, c, S)
	}
}

// AddAbs implements backend.Backend.
func (be *Backend[T]) AddAbs(out, a, b backend.Buf, n int) {
	o, as, bs := Data[T](out), Data[T](a), Data[T](b)
	be.parFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := bs[i]
			if v < 0 {
				v = -v
			}
			o[i] = as[i] + v
		}
	})
}

// Cast implements backend.Backend: on the CPU every buffer holds T, so it
// is a copy.
func (be *Backend[T]) Cast(dst, src backend.Buf, n int) {
	copy(Data[T](dst)[:n], Data[T](src)[:n])
}
