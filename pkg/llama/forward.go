package llama

import (
	"fmt"

	"github.com/smt-go/smt/pkg/backend"
)

// linear computes out [N, outF] = in [N, inF] · Wᵀ, with W [outF, inF];
// beta = 1 adds to out.
func (m *Model) linear(out, in, w backend.Buf, N, outF, inF int, beta float32) {
	m.BE.MatMul(false, true, N, outF, inF, 1, in, inF, w, inF, beta, out, outF)
}

// Forward runs the model on ids [B·T] (B sequences of T tokens) and leaves
// the logits in a.Logits.
func (m *Model) Forward(a *Acts, ids []int32) {
	if len(ids) != a.N() {
		panic(fmt.Sprintf("llama: forward of %d ids with activations for %d×%d", len(ids), a.B, a.T))
	}
	c, be := m.Cfg, m.BE
	N, D := a.N(), c.HiddenSize
	be.Embedding(a.Layers[0].In, m.W(Embed, 0), ids, D)
	s := backend.AttnShape{B: a.B, Tq: a.T, Tk: a.T, H: c.NumAttentionHeads, KV: c.KVHeads(), HD: c.HeadSize(), Scale: m.Scale()}
	for l := range a.Layers {
		la := &a.Layers[l]
		m.attnIn(l, la, N, a.Pos)
		be.Attention(la.Att, la.LSE, la.Q, la.K, la.V, s)
		m.attnOut(l, la, N)
		m.mlp(l, la, N)
	}
	m.head(a.LNF, a.RstdF, a.Logits, a.Layers[len(a.Layers)-1].Out, N)
}

// attnIn: LN1 = rmsnorm(In); Q, K, V = LN1·W{q,k,v}ᵀ; RoPE on Q and K.
func (m *Model) attnIn(l int, la *LayerActs, N int, pos []int32) {
	c, be := m.Cfg, m.BE
	D, QD, KD, HD := c.HiddenSize, c.QDim(), c.KVDim(), c.HeadSize()
	be.RMSNorm(la.LN1, la.Rstd1, la.In, m.W(AttnNorm, l), N, D, float32(c.RMSNormEps))
	la.ln1Cols.save(be, la.LN1, N, D)
	m.linear(la.Q, la.LN1, m.W(Q, l), N, QD, D, 0)
	m.linear(la.K, la.LN1, m.W(K, l), N, KD, D, 0)
	m.linear(la.V, la.LN1, m.W(V, l), N, KD, D, 0)
	be.RoPE(la.Q, pos, m.ropeCos, m.ropeSin, N, c.NumAttentionHeads, HD, false)
	be.RoPE(la.K, pos, m.ropeCos, m.ropeSin, N, c.KVHeads(), HD, false)
}

// attnOut: Mid = In + Att·Woᵀ.
func (m *Model) attnOut(l int, la *LayerActs, N int) {
	c := m.Cfg
	D := c.HiddenSize
	m.BE.Copy2D(la.Mid, D, la.In, D, N, D)
	m.linear(la.Mid, la.Att, m.W(O, l), N, D, c.QDim(), 1)
}

// mlp: LN2 = rmsnorm(Mid); Act = silu(LN2·Wgateᵀ)·(LN2·Wupᵀ);
// Out = Mid + Act·Wdownᵀ.
func (m *Model) mlp(l int, la *LayerActs, N int) {
	c, be := m.Cfg, m.BE
	D, F := c.HiddenSize, c.IntermediateSize
	be.RMSNorm(la.LN2, la.Rstd2, la.Mid, m.W(MLPNorm, l), N, D, float32(c.RMSNormEps))
	m.linear(la.Gate, la.LN2, m.W(Gate, l), N, F, D, 0)
	m.linear(la.Up, la.LN2, m.W(Up, l), N, F, D, 0)
	la.ln2Cols.save(be, la.LN2, N, D)
	be.SwiGLU(la.Act, la.Gate, la.Up, N*F)
	la.actCols.save(be, la.Act, N, F)
	be.Copy2D(la.Out, D, la.Mid, D, N, D)
	m.linear(la.Out, la.Act, m.W(Down, l), N, D, F, 1)
}

// head: lnf = rmsnorm(x); logits = lnf·Wheadᵀ.
func (m *Model) head(lnf, rstd, logits, x backend.Buf, N int) {
	c := m.Cfg
	m.BE.RMSNorm(lnf, rstd, x, m.W(FinalNorm, 0), N, c.HiddenSize, float32(c.RMSNormEps))
	m.linear(logits, lnf, m.W(Head, 0), N, c.VocabSize, c.HiddenSize, 0)
}

// Loss computes the mean cross-entropy of a.Logits against targets [N]
// (target < 0: not counted). With grad, the logits are replaced by the
// gradient of the mean loss. It returns the mean loss and the number of
// counted targets.
func (m *Model) Loss(a *Acts, targets []int32, grad bool) (float64, int) {
	count := 0
	for _, t := range targets {
		if t >= 0 {
			count++
		}
	}
	if count == 0 {
		return 0, 0
	}
	var gs float32
	if grad {
		gs = 1 / float32(count)
	}
	sum, _ := m.LossSum(a, targets, gs)
	return sum / float64(count), count
}

// LossSum returns the summed cross-entropy of a.Logits against targets and
// the number of counted targets; with gradScale ≠ 0 the logits are replaced
// by gradScale·∂(sum)/∂logits (gradient accumulation over micro-batches
// passes 1/(targets of the whole batch)).
func (m *Model) LossSum(a *Acts, targets []int32, gradScale float32) (float64, int) {
	N := a.N()
	losses := make([]float32, N)
	m.BE.CrossEntropy(a.Logits, targets, N, m.Cfg.VocabSize, gradScale, losses)
	var sum float64
	count := 0
	for i, l := range losses {
		if targets[i] >= 0 {
			sum += float64(l)
			count++
		}
	}
	return sum, count
}
