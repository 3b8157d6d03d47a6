package llama

import (
	"fmt"

	"github.com/smt-go/smt/pkg/backend"
)

// Sampler picks the next token from one row of logits [V] (host float32).
// A nil Sampler means greedy decoding (argmax, on the backend).
type Sampler func(logits []float32) int32

// Generator decodes with a key/value cache for up to B sequences of up to
// Tmax positions (prompt + generated tokens).
type Generator struct {
	m       *Model
	B, Tmax int
	kc, vc  []backend.Buf // per layer: [B, Tmax, KV·HD]
	la      LayerActs     // scratch for up to rows tokens
	rows    int
	last    backend.Buf // [B, D] last position's hidden state
	lnf     backend.Buf // [B, D]
	logits  backend.Buf // [B, V]
	kv, q   backend.Buf // scratch views
}

// NewGenerator allocates a cache for B sequences of Tmax positions.
func (m *Model) NewGenerator(B, Tmax int) *Generator {
	c, be := m.Cfg, m.BE
	dt := be.DType()
	g := &Generator{m: m, B: B, Tmax: Tmax}
	for range c.NumHiddenLayers {
		g.kc = append(g.kc, be.Alloc(dt, B*Tmax*c.KVDim()))
		g.vc = append(g.vc, be.Alloc(dt, B*Tmax*c.KVDim()))
	}
	g.last = be.Alloc(dt, B*c.HiddenSize)
	g.lnf = be.Alloc(dt, B*c.HiddenSize)
	g.logits = be.Alloc(dt, B*c.VocabSize)
	m.EnsureRoPE(Tmax)
	return g
}

// scratch makes sure the per-layer scratch holds n token rows.
func (g *Generator) scratch(n int) {
	if n <= g.rows {
		return
	}
	c, be := g.m.Cfg, g.m.BE
	dt := be.DType()
	D, F, QD, KD := c.HiddenSize, c.IntermediateSize, c.QDim(), c.KVDim()
	alloc := func(k int) backend.Buf { return be.Alloc(dt, k) }
	g.la = LayerActs{
		In: alloc(n * D), LN1: alloc(n * D), Rstd1: be.Alloc(backend.F32, n), Q: alloc(n * QD), K: alloc(n * KD), V: alloc(n * KD),
		Att: alloc(n * QD), Mid: alloc(n * D), LN2: alloc(n * D), Rstd2: be.Alloc(backend.F32, n),
		Gate: alloc(n * F), Up: alloc(n * F), Act: alloc(n * F), Out: alloc(n * D),
	}
	g.rows = n
}

// view returns the scratch narrowed to n rows.
func (g *Generator) view(n int) LayerActs {
	c, be := g.m.Cfg, g.m.BE
	D, F, QD, KD := c.HiddenSize, c.IntermediateSize, c.QDim(), c.KVDim()
	s := func(b backend.Buf, w int) backend.Buf { return be.Slice(b, 0, n*w) }
	la := g.la
	return LayerActs{
		In: s(la.In, D), LN1: s(la.LN1, D), Rstd1: s(la.Rstd1, 1), Q: s(la.Q, QD), K: s(la.K, KD), V: s(la.V, KD),
		Att: s(la.Att, QD), Mid: s(la.Mid, D), LN2: s(la.LN2, D), Rstd2: s(la.Rstd2, 1),
		Gate: s(la.Gate, F), Up: s(la.Up, F), Act: s(la.Act, F), Out: s(la.Out, D),
	}
}

// step runs Tq new tokens of every sequence (ids [B·Tq], sequence-major)
// at cache positions [t0, t0+Tq), and leaves the logits of each
// sequence's last new token in g.logits.
func (g *Generator) step(ids []int32, Tq, t0 int, start []int32) {
	m, c, be := g.m, g.m.Cfg, g.m.BE
	B, N := g.B, g.B*Tq
	D, KD := c.HiddenSize, c.KVDim()
	g.scratch(N)
	la := g.view(N)
	pos := make([]int32, N)
	for b := 0; b < B; b++ {
		for i := 0; i < Tq; i++ {
			p := int32(t0+i) - start[b]
			if p < 0 {
				p = 0 // a padding position: its output is never used
			}
			pos[b*Tq+i] = p
		}
	}
	be.Embedding(la.In, m.W(Embed, 0), ids, D)
	s := backend.AttnShape{B: B, Tq: Tq, Tk: t0 + Tq, H: c.NumAttentionHeads, KV: c.KVHeads(), HD: c.HeadSize(),
		KVBatchStride: g.Tmax * KD, Start: start, Scale: m.Scale()}
	for l := 0; l < c.NumHiddenLayers; l++ {
		m.attnIn(l, &la, N, pos)
		kc := be.Slice(g.kc[l], t0*KD, g.kc[l].Len()-t0*KD)
		vc := be.Slice(g.vc[l], t0*KD, g.vc[l].Len()-t0*KD)
		be.Copy2D(kc, g.Tmax*KD, la.K, Tq*KD, B, Tq*KD)
		be.Copy2D(vc, g.Tmax*KD, la.V, Tq*KD, B, Tq*KD)
		be.Attention(la.Att, nil, la.Q, g.kc[l], g.vc[l], s)
		m.attnOut(l, &la, N)
		m.mlp(l, &la, N)
		la.In, la.Out = la.Out, la.In
	}
	// The last layer's output is in la.In after the swap; keep each
	// sequence's last row.
	be.Copy2D(g.last, D, be.Slice(la.In, (Tq-1)*D, N*D-(Tq-1)*D), Tq*D, B, D)
	m.head(g.lnf, nil, g.logits, g.last, B)
}

// Generate continues each prompt (at most B of them; each at least one
// token) by up to maxNew tokens, stopping a sequence at an end-of-sequence
// id (not included in its output). Prompts of different lengths are padded
// on the left and masked, so each result equals decoding that prompt alone.
func (g *Generator) Generate(prompts [][]int32, maxNew int, sample Sampler) ([][]int32, error) {
	m, c := g.m, g.m.Cfg
	if len(prompts) == 0 || len(prompts) > g.B {
		return nil, fmt.Errorf("generate: %d prompts for a generator of batch %d", len(prompts), g.B)
	}
	L := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("generate: prompt %d is empty", i)
		}
		L = max(L, len(p))
	}
	if L+maxNew > g.Tmax {
		return nil, fmt.Errorf("generate: prompt of %d tokens + %d new exceeds the cache of %d positions", L, maxNew, g.Tmax)
	}
	B := g.B
	start := make([]int32, B)
	ids := make([]int32, B*L)
	for b := 0; b < B; b++ {
		p := prompts[min(b, len(prompts)-1)] // unused rows repeat the last prompt
		start[b] = int32(L - len(p))
		copy(ids[b*L+int(start[b]):], p)
	}
	out := make([][]int32, len(prompts))
	done := make([]bool, B)
	for b := len(prompts); b < B; b++ {
		done[b] = true
	}
	g.step(ids, L, 0, start)
	next := make([]int32, B)
	host := make([]float32, c.VocabSize)
	for t := 0; t < maxNew; t++ {
		if sample == nil {
			copy(next, m.BE.Argmax(g.logits, B, c.VocabSize))
		} else {
			for b := 0; b < B; b++ {
				if !done[b] {
					m.BE.Download(host, m.BE.Slice(g.logits, b*c.VocabSize, c.VocabSize))
					next[b] = sample(host)
				}
			}
		}
		alive := false
		for b := range prompts {
			if done[b] {
				continue
			}
			if c.IsEOS(int(next[b])) {
				done[b] = true
				continue
			}
			out[b] = append(out[b], next[b])
			alive = true
		}
		if !alive || t == maxNew-1 {
			break
		}
		g.step(next, 1, L+t, start)
	}
	return out, nil
}
