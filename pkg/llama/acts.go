package llama

import (
	"slices"

	"github.com/smt-go/smt/pkg/backend"
)

// LayerActs are the activations of one layer for a batch of N = B·T tokens.
// The training forward keeps what the backward needs per layer; inference
// shares one set between layers.
//
// The inputs of the linear layers (LN1 for q, k, v; LN2 for gate, up; Act
// for down) are needed by the backward only for weight gradients. When a
// layer's weights get only SMT block gradients, just the input columns
// those blocks read are kept (colSave, one copy per distinct column block);
// the full buffer is then a scratch shared by all layers.
type LayerActs struct {
	In    backend.Buf // [N, D] layer input (residual stream)
	LN1   backend.Buf // [N, D] input_layernorm output (input of q, k, v)
	Rstd1 backend.Buf // [N] its 1/rms
	Q     backend.Buf // [N, H·HD] queries after RoPE
	K     backend.Buf // [N, KV·HD] keys after RoPE
	V     backend.Buf // [N, KV·HD] values
	Att   backend.Buf // [N, H·HD] attention output (input of o_proj)
	LSE   backend.Buf // [B, H, T] log-sum-exp of the attention scores
	Mid   backend.Buf // [N, D] residual after attention
	LN2   backend.Buf // [N, D] post_attention_layernorm output
	Rstd2 backend.Buf // [N]
	Gate  backend.Buf // [N, F] gate_proj output
	Up    backend.Buf // [N, F] up_proj output
	Act   backend.Buf // [N, F] silu(gate)·up (input of down_proj)
	Out   backend.Buf // [N, D] layer output = next layer's In

	ln1Cols, ln2Cols, actCols colSave
}

// colSave keeps selected column blocks of a linear layer's input.
type colSave struct {
	cols []int32     // column-block ids, ascending
	size int         // block size S
	buf  backend.Buf // [N, len(cols)·S]
}

// save copies the kept columns of x [N, width] into the compact buffer.
func (c *colSave) save(be backend.Backend, x backend.Buf, N, width int) {
	if c.buf == nil {
		return
	}
	w := len(c.cols) * c.size
	for i, col := range c.cols {
		dst := be.Slice(c.buf, i*c.size, c.buf.Len()-i*c.size)
		src := be.Slice(x, int(col)*c.size, x.Len()-int(col)*c.size)
		be.Copy2D(dst, w, src, width, N, c.size)
	}
}

// Acts holds the activations of a batch of B sequences of T tokens.
type Acts struct {
	B, T   int
	Layers []LayerActs
	LNF    backend.Buf // [N, D] final norm output
	RstdF  backend.Buf // [N]
	Logits backend.Buf // [N, V]
	Pos    []int32     // [N] position of each token (t for token t of a sequence)

	// Bytes is the size of the saved activations (what the backward reads),
	// and ScratchBytes of the buffers shared between layers.
	Bytes, ScratchBytes int64

	be backend.Backend
}

// N is the number of tokens in the batch.
func (a *Acts) N() int { return a.B * a.T }

// NewActs allocates activations for inference on batches of B×T tokens:
// the layers share one set of buffers.
func (m *Model) NewActs(B, T int, save bool) *Acts {
	if save {
		return m.NewTrainActs(B, T, nil)
	}
	return m.newActs(B, T, nil, false)
}

// NewTrainActs allocates activations for training on batches of B×T tokens
// with gradients going to g: every layer keeps what Backward needs for g
// (with g nil, everything, as for full fine-tuning).
func (m *Model) NewTrainActs(B, T int, g *GradTargets) *Acts {
	return m.newActs(B, T, g, true)
}

// inputPlan decides how much of a linear input to keep for the weight
// gradients of its consumers: all columns (a dense gradient, or blocks
// covering every column), the union of the block columns, or nothing.
func (m *Model) inputPlan(g *GradTargets, layer, width int, consumers ...Kind) (full bool, cols []int32, size int) {
	if g == nil {
		return true, nil, 0
	}
	for _, k := range consumers {
		i := m.Layout.Index(k, layer)
		if g.Dense[i] != nil {
			return true, nil, 0
		}
		if bg := g.Blocks[i]; bg != nil {
			size = bg.Table.Size
			cols = append(cols, bg.Table.Cols...)
		}
	}
	if len(cols) == 0 {
		return false, nil, 0
	}
	slices.Sort(cols)
	cols = slices.Compact(cols)
	if len(cols)*size == width {
		return true, nil, 0
	}
	return false, cols, size
}

func (m *Model) newActs(B, T int, g *GradTargets, train bool) *Acts {
	c, be := m.Cfg, m.BE
	N, D, F, QD, KD := B*T, c.HiddenSize, c.IntermediateSize, c.QDim(), c.KVDim()
	H := c.NumAttentionHeads
	dt := be.DType()
	esz := int64(dt.Size())
	a := &Acts{B: B, T: T, Layers: make([]LayerActs, c.NumHiddenLayers), be: be}
	saved := func(n int) backend.Buf { a.Bytes += int64(n) * esz; return be.Alloc(dt, n) }
	scratch := func(n int) backend.Buf { a.ScratchBytes += int64(n) * esz; return be.Alloc(dt, n) }
	// Normalisation statistics and log-sum-exps stay float32 whatever the
	// activation type: the backward recomputes from them.
	saved32 := func(n int) backend.Buf { a.Bytes += 4 * int64(n); return be.Alloc(backend.F32, n) }
	scratch32 := func(n int) backend.Buf { a.ScratchBytes += 4 * int64(n); return be.Alloc(backend.F32, n) }
	var shared LayerActs
	if !train {
		shared = LayerActs{
			LN1: scratch(N * D), Rstd1: scratch32(N), Q: scratch(N * QD), K: scratch(N * KD), V: scratch(N * KD),
			Att: scratch(N * QD), LSE: scratch32(B * H * T), Mid: scratch(N * D),
			LN2: scratch(N * D), Rstd2: scratch32(N), Gate: scratch(N * F), Up: scratch(N * F), Act: scratch(N * F),
		}
	}
	var scrLN, scrAct backend.Buf // shared full inputs when a layer keeps only columns
	res := []backend.Buf{}
	if train {
		res = append(res, saved(N*D))
	} else {
		res = append(res, scratch(N*D))
	}
	for l := range a.Layers {
		la := &a.Layers[l]
		if !train {
			*la = shared
			if l < 1 {
				res = append(res, scratch(N*D))
			} else {
				res = append(res, res[l-1]) // ping-pong between two buffers
			}
			la.In, la.Out = res[l], res[l+1]
			continue
		}
		*la = LayerActs{
			Rstd1: saved32(N), Q: saved(N * QD), K: saved(N * KD), V: saved(N * KD),
			Att: saved(N * QD), LSE: saved32(B * H * T), Mid: saved(N * D),
			Rstd2: saved32(N), Gate: saved(N * F), Up: saved(N * F),
		}
		input := func(width int, cs *colSave, scr *backend.Buf, kinds ...Kind) backend.Buf {
			full, cols, size := m.inputPlan(g, l, width, kinds...)
			if full {
				return saved(N * width)
			}
			if cols != nil {
				*cs = colSave{cols: cols, size: size, buf: saved(N * len(cols) * size)}
			}
			if *scr == nil || (*scr).Len() < N*width {
				*scr = scratch(N * width)
			}
			return be.Slice(*scr, 0, N*width)
		}
		la.LN1 = input(D, &la.ln1Cols, &scrLN, Q, K, V)
		la.LN2 = input(D, &la.ln2Cols, &scrLN, Gate, Up)
		la.Act = input(F, &la.actCols, &scrAct, Down)
		res = append(res, saved(N*D))
		la.In, la.Out = res[l], res[l+1]
	}
	a.LNF, a.RstdF = saved(N*D), saved32(N)
	if !train {
		a.LNF, a.RstdF = scratch(N*D), scratch32(N)
	}
	a.Logits = scratch(N * c.VocabSize)
	a.Pos = make([]int32, N)
	for i := range a.Pos {
		a.Pos[i] = int32(i % T)
	}
	m.EnsureRoPE(T)
	return a
}

// View returns activations for a smaller batch of B×T tokens (B·T ≤ the
// allocated N) that use the first part of a's buffers.
func (a *Acts) View(B, T int) *Acts {
	N0, N := a.N(), B*T
	if N > N0 {
		panic("llama: activation view larger than its buffers")
	}
	if B == a.B && T == a.T {
		return a
	}
	cut := func(b backend.Buf) backend.Buf {
		if b == nil {
			return nil
		}
		return a.be.Slice(b, 0, b.Len()/N0*N)
	}
	v := &Acts{B: B, T: T, Layers: make([]LayerActs, len(a.Layers)), Bytes: a.Bytes, ScratchBytes: a.ScratchBytes, be: a.be}
	for i, la := range a.Layers {
		v.Layers[i] = LayerActs{
			In: cut(la.In), LN1: cut(la.LN1), Rstd1: cut(la.Rstd1), Q: cut(la.Q), K: cut(la.K), V: cut(la.V),
			Att: cut(la.Att), LSE: cut(la.LSE), Mid: cut(la.Mid), LN2: cut(la.LN2), Rstd2: cut(la.Rstd2),
			Gate: cut(la.Gate), Up: cut(la.Up), Act: cut(la.Act), Out: cut(la.Out),
			ln1Cols: la.ln1Cols.view(cut), ln2Cols: la.ln2Cols.view(cut), actCols: la.actCols.view(cut),
		}
	}
	v.LNF, v.RstdF, v.Logits = cut(a.LNF), cut(a.RstdF), cut(a.Logits)
	v.Pos = make([]int32, N)
	for i := range v.Pos {
		v.Pos[i] = int32(i % T)
	}
	return v
}

func (c colSave) view(cut func(backend.Buf) backend.Buf) colSave {
	c.buf = cut(c.buf)
	return c
}
