package main

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/llama"
)

// Shape is a LLaMA shape and the batch a step trains on.
type Shape struct {
	Name   string `json:"name"`
	Dim    int    `json:"dim"`
	Layers int    `json:"layers"`
	Heads  int    `json:"heads"`
	KV     int    `json:"kv_heads"`
	FFN    int    `json:"ffn"`
	Vocab  int    `json:"vocab"`
	Batch  int    `json:"batch"`
	Seq    int    `json:"seq"`
}

// presets are the shapes issue 8 names. Both have an untied lm_head, as the
// real checkpoints do.
var presets = map[string]Shape{
	// LLaMA-2-7B: 6.74 B parameters.
	"llama2-7b": {Name: "llama2-7b", Dim: 4096, Layers: 32, Heads: 32, KV: 32, FFN: 11008, Vocab: 32000, Batch: 16, Seq: 512},
	// TinyLlama-1.1B: 1.10 B parameters, grouped-query attention.
	"tinyllama-1.1b": {Name: "tinyllama-1.1b", Dim: 2048, Layers: 22, Heads: 32, KV: 4, FFN: 5632, Vocab: 32000, Batch: 16, Seq: 512},
	// A shape small enough for the stand-in libraries and CPU tests.
	"tiny": {Name: "tiny", Dim: 64, Layers: 2, Heads: 4, KV: 2, FFN: 160, Vocab: 96, Batch: 2, Seq: 16},
}

// presetNames lists the presets for flag help.
func presetNames() string {
	var s []string
	for k := range presets {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// HeadDim is the size of one attention head.
func (s Shape) HeadDim() int { return s.Dim / s.Heads }

// Tokens is the number of tokens in one step's batch.
func (s Shape) Tokens() int { return s.Batch * s.Seq }

// Validate checks that the shape describes a model the code can run.
func (s Shape) Validate() error {
	switch {
	case s.Dim <= 0 || s.Layers <= 0 || s.Heads <= 0 || s.KV <= 0 || s.FFN <= 0 || s.Vocab <= 0 || s.Batch <= 0 || s.Seq <= 0:
		return fmt.Errorf("shape %+v: every size must be positive", s)
	case s.Dim%s.Heads != 0:
		return fmt.Errorf("dim %d is not a multiple of heads %d", s.Dim, s.Heads)
	case s.Heads%s.KV != 0:
		return fmt.Errorf("heads %d is not a multiple of kv heads %d", s.Heads, s.KV)
	case s.HeadDim()%2 != 0:
		return fmt.Errorf("head size %d must be even", s.HeadDim())
	}
	return nil
}

// Config is the model configuration of the shape.
func (s Shape) Config() *llama.Config {
	return &llama.Config{HiddenSize: s.Dim, IntermediateSize: s.FFN, NumHiddenLayers: s.Layers, NumAttentionHeads: s.Heads,
		NumKeyValueHeads: s.KV, RMSNormEps: 1e-5, RopeTheta: 10000, VocabSize: s.Vocab, MaxPositionEmbeddings: max(s.Seq, 4096),
		BOSTokenID: 1, EOSTokenIDs: []int{2}, HiddenAct: "silu"}
}

// Params2D is the number of parameters in 2-D tensors (embedding, the seven
// linear weights of every layer, lm_head): the total the SMT reference's
// budget is a fraction of.
func (s Shape) Params2D() int64 {
	D, F, QD, KD := int64(s.Dim), int64(s.FFN), int64(s.Dim), int64(s.KV*s.HeadDim())
	layer := D*QD + 2*D*KD + QD*D + 3*D*F
	return 2*int64(s.Vocab)*D + int64(s.Layers)*layer
}

// BudgetBlocks is the reference's block budget: n = int(ratio · 2-D
// parameters / S²).
func BudgetBlocks(s Shape, ratio float64, S int) int {
	return int(ratio * float64(s.Params2D()) / float64(S*S))
}

// blockRef is one candidate block: a matrix kind in a layer and its
// (row, col) in the block grid.
type blockRef struct {
	kind     llama.Kind
	layer    int
	row, col int32
}

// SelectBlocks picks n blocks of size S from the Q, K and V weights of all
// layers, deterministically in seed, and returns the block tables keyed by
// tensor index.
//
//	random   uniformly over the pool of every Q/K/V block of every layer
//	         (one global draw without replacement; SMT's global top-n over
//	         random scores);
//	v-heavy  60% of the blocks from the V pool, the rest uniformly from Q
//	         and K (the shape real warm-up gradients give: V gets most).
//
// Each table lists its blocks in row-major grid order.
func SelectBlocks(s Shape, lay *llama.Layout, n, S int, policy string, seed uint64) (map[int]backend.BlockTable, error) {
	QD, KD := s.Dim, s.KV*s.HeadDim()
	if s.Dim%S != 0 || QD%S != 0 || KD%S != 0 {
		return nil, fmt.Errorf("block size %d does not divide dim %d and the k/v width %d", S, s.Dim, KD)
	}
	pool := func(kinds ...llama.Kind) []blockRef {
		var p []blockRef
		for l := 0; l < s.Layers; l++ {
			for _, k := range kinds {
				out := QD
				if k != llama.Q {
					out = KD
				}
				for r := 0; r < out/S; r++ {
					for c := 0; c < s.Dim/S; c++ {
						p = append(p, blockRef{k, l, int32(r), int32(c)})
					}
				}
			}
		}
		return p
	}
	rng := rand.New(rand.NewPCG(seed, 0x5347505553454c))
	draw := func(p []blockRef, k int) ([]blockRef, []blockRef) {
		k = min(k, len(p))
		perm := rng.Perm(len(p))
		var got, rest []blockRef
		for i, j := range perm {
			if i < k {
				got = append(got, p[j])
			} else {
				rest = append(rest, p[j])
			}
		}
		return got, rest
	}
	if n <= 0 {
		return nil, fmt.Errorf("no blocks to train (budget %d)", n)
	}
	var chosen []blockRef
	switch policy {
	case "random":
		all := pool(llama.Q, llama.K, llama.V)
		if n > len(all) {
			return nil, fmt.Errorf("%d blocks asked for, the q/k/v pool holds %d", n, len(all))
		}
		chosen, _ = draw(all, n)
	case "v-heavy":
		vs, qk := pool(llama.V), pool(llama.Q, llama.K)
		if n > len(vs)+len(qk) {
			return nil, fmt.Errorf("%d blocks asked for, the q/k/v pool holds %d", n, len(vs)+len(qk))
		}
		nv := min(len(vs), n*6/10)
		if n-nv > len(qk) {
			nv = n - len(qk)
		}
		v, _ := draw(vs, nv)
		o, _ := draw(qk, n-nv)
		chosen = append(v, o...)
	default:
		return nil, fmt.Errorf("unknown selection policy %q (random, v-heavy)", policy)
	}
	sort.Slice(chosen, func(i, j int) bool {
		a, b := chosen[i], chosen[j]
		if a.layer != b.layer {
			return a.layer < b.layer
		}
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.row != b.row {
			return a.row < b.row
		}
		return a.col < b.col
	})
	tables := map[int]backend.BlockTable{}
	for _, b := range chosen {
		i := lay.Index(b.kind, b.layer)
		t, ok := tables[i]
		if !ok {
			tt := &lay.Tensors[i]
			t = backend.BlockTable{Size: S, Out: tt.Rows(), In: tt.Cols()}
		}
		t.Rows = append(t.Rows, b.row)
		t.Cols = append(t.Cols, b.col)
		tables[i] = t
	}
	return tables, nil
}

// BlockStats summarises a selection: blocks per kind and the lowest layer
// holding one (-1 when none).
type BlockStats struct {
	Q, K, V int
	Lowest  int
}

func blockStats(lay *llama.Layout, tables map[int]backend.BlockTable) BlockStats {
	st := BlockStats{Lowest: -1}
	for i, t := range tables {
		tt := &lay.Tensors[i]
		switch tt.Kind {
		case llama.Q:
			st.Q += t.Len()
		case llama.K:
			st.K += t.Len()
		case llama.V:
			st.V += t.Len()
		}
		if t.Len() > 0 && (st.Lowest < 0 || tt.Layer < st.Lowest) {
			st.Lowest = tt.Layer
		}
	}
	return st
}
