package llama

import (
	"fmt"

	"github.com/smt-go/smt/pkg/backend"
)

// GradTargets says which parameters get gradients from Backward and where
// they go. Gradients are accumulated (+=), so several micro-batches can add
// into the same buffers.
type GradTargets struct {
	// Dense[i] receives the gradient of Layout.Tensors[i], laid out like
	// the tensor; nil for none. A tied head's gradient goes to the
	// embedding's entry.
	Dense []backend.Buf
	// Blocks[i] receives SMT block gradients of Layout.Tensors[i] (linear
	// weights only); nil for none. A tensor has Dense or Blocks, not both.
	Blocks []*BlockGrads
}

// BlockGrads are the gradients of the selected blocks of one weight.
type BlockGrads struct {
	Table backend.BlockTable
	Grad  backend.Buf // [k, S, S], block i at i·S·S
}

// NewGradTargets returns empty targets for the model.
func (m *Model) NewGradTargets() *GradTargets {
	n := len(m.Layout.Tensors)
	return &GradTargets{Dense: make([]backend.Buf, n), Blocks: make([]*BlockGrads, n)}
}

// Validate checks that no tensor has both kinds of gradients and that block
// tables fit their matrices.
func (g *GradTargets) Validate(lay *Layout) error {
	for i, bg := range g.Blocks {
		if bg == nil {
			continue
		}
		t := &lay.Tensors[i]
		if g.Dense[i] != nil {
			return fmt.Errorf("llama: %s has both dense and block gradients", t.Name)
		}
		if !t.Kind.IsLinear() {
			return fmt.Errorf("llama: %s is not a linear weight; it cannot have block gradients", t.Name)
		}
		tb := bg.Table
		if tb.Out != t.Rows() || tb.In != t.Cols() || tb.Size <= 0 || tb.Out%tb.Size != 0 || tb.In%tb.Size != 0 {
			return fmt.Errorf("llama: %s [%d %d]: block table for [%d %d] with block size %d", t.Name, t.Rows(), t.Cols(), tb.Out, tb.In, tb.Size)
		}
		for j := range tb.Rows {
			if tb.Rows[j] < 0 || int(tb.Rows[j]) >= tb.Out/tb.Size || tb.Cols[j] < 0 || int(tb.Cols[j]) >= tb.In/tb.Size {
				return fmt.Errorf("llama: %s: block (%d, %d) is outside the %d×%d block grid", t.Name, tb.Rows[j], tb.Cols[j], tb.Out/tb.Size, tb.In/tb.Size)
			}
		}
		if bg.Grad.Len() < tb.Len()*tb.Size*tb.Size {
			return fmt.Errorf("llama: %s: gradient buffer of %d for %d blocks of %d×%d", t.Name, bg.Grad.Len(), tb.Len(), tb.Size, tb.Size)
		}
	}
	return nil
}

// GradScratch holds the backward's temporary buffers for N tokens.
type GradScratch struct {
	n                int
	dRes, dLN        backend.Buf // [N, D]
	dAct, dGate, dUp backend.Buf // [N, F]
	dAtt, dQ         backend.Buf // [N, H·HD]
	dK, dV           backend.Buf // [N, KV·HD]
	Bytes            int64
}

// NewGradScratch allocates the backward's temporaries for N tokens.
func (m *Model) NewGradScratch(N int) *GradScratch {
	c, be := m.Cfg, m.BE
	dt := be.DType()
	D, F, QD, KD := c.HiddenSize, c.IntermediateSize, c.QDim(), c.KVDim()
	s := &GradScratch{n: N}
	alloc := func(k int) backend.Buf { s.Bytes += int64(k) * int64(dt.Size()); return be.Alloc(dt, k) }
	s.dRes, s.dLN = alloc(N*D), alloc(N*D)
	s.dAct, s.dGate, s.dUp = alloc(N*F), alloc(N*F), alloc(N*F)
	s.dAtt, s.dQ = alloc(N*QD), alloc(N*QD)
	s.dK, s.dV = alloc(N*KD), alloc(N*KD)
	return s
}

// weightGrad accumulates the gradient of the linear weight (k, layer) with
// output gradient dy [N, out] and input x [N, in], as a dense dW = dyᵀ·x or
// as the selected blocks' gradients (reading the compact input cs when the
// layer kept only some columns).
func (m *Model) weightGrad(g *GradTargets, k Kind, layer int, dy, x backend.Buf, cs *colSave, N int) {
	i := m.Layout.Index(k, layer)
	t := &m.Layout.Tensors[i]
	out, in := t.Rows(), t.Cols()
	if d := g.Dense[i]; d != nil {
		m.BE.MatMul(true, false, out, in, N, 1, dy, out, x, in, 1, d, in)
		return
	}
	bg := g.Blocks[i]
	if bg == nil {
		return
	}
	S := bg.Table.Size
	xcol := make([]int32, bg.Table.Len())
	xb, ldx := x, in
	if cs != nil && cs.buf != nil {
		xb, ldx = cs.buf, len(cs.cols)*cs.size
		for j, c := range bg.Table.Cols {
			p, _ := slicesIndex(cs.cols, c)
			xcol[j] = int32(p * S)
		}
	} else {
		for j, c := range bg.Table.Cols {
			xcol[j] = c * int32(S)
		}
	}
	m.BE.BlockGrad(bg.Grad, 1, dy, out, xb, ldx, N, bg.Table, xcol)
}

func slicesIndex(s []int32, v int32) (int, bool) {
	lo, hi := 0, len(s)
	for lo < hi {
		mid := (lo + hi) / 2
		if s[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(s) && s[lo] == v
}

// wants reports whether a tensor gets any gradient.
func (g *GradTargets) wants(lay *Layout, k Kind, layer int) bool {
	i := lay.Index(k, layer)
	return g.Dense[i] != nil || g.Blocks[i] != nil
}

// lowestLayer returns the lowest layer whose parameters (or the
// embedding's) need gradients; the backward stops below it. -1 means the
// embedding needs its gradient.
func (g *GradTargets) lowestLayer(lay *Layout) int {
	if g.Dense[lay.Index(Embed, 0)] != nil {
		return -1
	}
	for l := 0; l < lay.Layers(); l++ {
		for k := AttnNorm; k <= Down; k++ {
			if g.wants(lay, k, l) {
				return l
			}
		}
	}
	return lay.Layers()
}

// Backward computes the gradients asked for by g, for a batch whose Forward
// filled a (allocated by NewTrainActs for g) and whose Loss(…, true) left
// ∂loss/∂logits in a.Logits. ids are the batch's input ids.
func (m *Model) Backward(a *Acts, ids []int32, g *GradTargets, s *GradScratch) {
	c, be := m.Cfg, m.BE
	N, D, F, QD, KD, HD := a.N(), c.HiddenSize, c.IntermediateSize, c.QDim(), c.KVDim(), c.HeadSize()
	if s.n < N {
		panic(fmt.Sprintf("llama: backward scratch for %d tokens, batch of %d", s.n, N))
	}
	sl := func(b backend.Buf, w int) backend.Buf { return be.Slice(b, 0, N*w) }
	dRes, dLN := sl(s.dRes, D), sl(s.dLN, D)
	dAct, dGate, dUp := sl(s.dAct, F), sl(s.dGate, F), sl(s.dUp, F)
	dAtt, dQ, dK, dV := sl(s.dAtt, QD), sl(s.dQ, QD), sl(s.dK, KD), sl(s.dV, KD)
	lowest := g.lowestLayer(m.Layout)
	L := c.NumHiddenLayers
	if lowest >= L && !g.wants(m.Layout, FinalNorm, 0) && !g.wants(m.Layout, Head, 0) {
		return // nothing to compute
	}

	// Head: dLNF = dlogits·Whead; dWhead += dlogitsᵀ·LNF.
	dlogits := a.Logits
	be.MatMul(false, false, N, D, c.VocabSize, 1, dlogits, c.VocabSize, m.W(Head, 0), D, 0, dLN, D)
	if i := m.Layout.Index(Head, 0); g.Dense[i] != nil {
		be.MatMul(true, false, c.VocabSize, D, N, 1, dlogits, c.VocabSize, a.LNF, D, 1, g.Dense[i], D)
	}
	be.Zero(dRes)
	be.RMSNormBackward(dRes, g.Dense[m.Layout.Index(FinalNorm, 0)], dLN, a.Layers[L-1].Out, m.W(FinalNorm, 0), a.RstdF, N, D)
	s2 := backend.AttnShape{B: a.B, Tq: a.T, Tk: a.T, H: c.NumAttentionHeads, KV: c.KVHeads(), HD: HD, Scale: m.Scale()}

	for l := L - 1; l >= max(lowest, 0); l-- {
		la := &a.Layers[l]
		// MLP. dres holds ∂L/∂Out.
		be.MatMul(false, false, N, F, D, 1, dRes, D, m.W(Down, l), F, 0, dAct, F)
		m.weightGrad(g, Down, l, dRes, la.Act, &la.actCols, N)
		be.SwiGLUBackward(dGate, dUp, dAct, la.Gate, la.Up, N*F)
		be.MatMul(false, false, N, D, F, 1, dGate, F, m.W(Gate, l), D, 0, dLN, D)
		be.MatMul(false, false, N, D, F, 1, dUp, F, m.W(Up, l), D, 1, dLN, D)
		m.weightGrad(g, Gate, l, dGate, la.LN2, &la.ln2Cols, N)
		m.weightGrad(g, Up, l, dUp, la.LN2, &la.ln2Cols, N)
		be.RMSNormBackward(dRes, g.Dense[m.Layout.Index(MLPNorm, l)], dLN, la.Mid, m.W(MLPNorm, l), la.Rstd2, N, D)
		// Attention. dres holds ∂L/∂Mid.
		be.MatMul(false, false, N, QD, D, 1, dRes, D, m.W(O, l), QD, 0, dAtt, QD)
		m.weightGrad(g, O, l, dRes, la.Att, nil, N)
		be.AttentionBackward(dQ, dK, dV, dAtt, la.Q, la.K, la.V, la.Att, la.LSE, s2)
		be.RoPE(dQ, a.Pos, m.ropeCos, m.ropeSin, N, c.NumAttentionHeads, HD, true)
		be.RoPE(dK, a.Pos, m.ropeCos, m.ropeSin, N, c.KVHeads(), HD, true)
		m.weightGrad(g, Q, l, dQ, la.LN1, &la.ln1Cols, N)
		m.weightGrad(g, K, l, dK, la.LN1, &la.ln1Cols, N)
		m.weightGrad(g, V, l, dV, la.LN1, &la.ln1Cols, N)
		if l == lowest && !g.wants(m.Layout, AttnNorm, l) {
			break // nothing below needs ∂L/∂In
		}
		be.MatMul(false, false, N, D, QD, 1, dQ, QD, m.W(Q, l), D, 0, dLN, D)
		be.MatMul(false, false, N, D, KD, 1, dK, KD, m.W(K, l), D, 1, dLN, D)
		be.MatMul(false, false, N, D, KD, 1, dV, KD, m.W(V, l), D, 1, dLN, D)
		be.RMSNormBackward(dRes, g.Dense[m.Layout.Index(AttnNorm, l)], dLN, la.In, m.W(AttnNorm, l), la.Rstd1, N, D)
	}
	if lowest < 0 {
		be.EmbeddingBackward(g.Dense[m.Layout.Index(Embed, 0)], dRes, ids, D)
	}
}
