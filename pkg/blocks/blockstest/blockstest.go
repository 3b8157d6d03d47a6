// Package blockstest makes synthetic scores for the tests of package
// blocks, its heat map and the select command.
package blockstest

import (
	"fmt"
	"math/rand/v2"

	"github.com/smt-go/smt/pkg/scores"
)

// Model describes the shapes of a LLaMA-like model.
type Model struct {
	Layers, Hidden, KV, FFN, Vocab int
}

// LLaMA7B is LLaMA-7B / LLaMA-2-7B: 32 layers, d 4096, ffn 11008, vocab 32000.
var LLaMA7B = Model{Layers: 32, Hidden: 4096, KV: 4096, FFN: 11008, Vocab: 32000}

// Stories260K is the shipped stories260K model (models/stories260K).
var Stories260K = Model{Layers: 5, Hidden: 64, KV: 32, FFN: 172, Vocab: 512}

// kinds are the linear kinds in layout order. (This package does not
// import package blocks, whose own tests use it.)
var kinds = []string{"q", "k", "v", "o", "gate", "up", "down"}

// TensorName returns the Hugging Face name of a layer's matrix.
func TensorName(layer int, kind string) string {
	if kind == "gate" || kind == "up" || kind == "down" {
		return fmt.Sprintf("model.layers.%d.mlp.%s_proj.weight", layer, kind)
	}
	return fmt.Sprintf("model.layers.%d.self_attn.%s_proj.weight", layer, kind)
}

// Shape returns [out, in] of a kind.
func (m Model) Shape(kind string) [2]int {
	switch kind {
	case "q":
		return [2]int{m.Hidden, m.Hidden}
	case "k", "v":
		return [2]int{m.KV, m.Hidden}
	case "o":
		return [2]int{m.Hidden, m.Hidden}
	case "gate", "up":
		return [2]int{m.FFN, m.Hidden}
	}
	return [2]int{m.Hidden, m.FFN}
}

// Params2D counts every 2-D weight, the head counted separately from the
// embedding (as warmup does, tied or not).
func (m Model) Params2D() int64 {
	per := int64(0)
	for _, k := range kinds {
		s := m.Shape(k)
		per += int64(s[0]) * int64(s[1])
	}
	return int64(m.Layers)*per + 2*int64(m.Vocab)*int64(m.Hidden)
}

// Scores returns scores for every block of the given kinds of every
// layer: pseudo-random values from seed, each kind scaled by its weight in
// weights (1 when absent). All five score columns are filled (with
// different values, so that ranking by one column differs from another).
func Scores(m Model, S int, scored []string, weights map[string]float32, seed uint64) (scores.Meta, []scores.Block) {
	r := rand.New(rand.NewPCG(seed, 7))
	meta := scores.Meta{BlockSize: S, Steps: 100, Tokens: 1000, Targets: 400, Update: "none", ModelHash: "sha256:test",
		DataHash: "sha256:data", ModelParams2D: m.Params2D(), Shapes: map[string][2]int{}, Layers: m.Layers}
	var out []scores.Block
	for _, k := range scored {
		meta.Shapes[k] = m.Shape(k)
	}
	for l := 0; l < m.Layers; l++ {
		for _, k := range kinds {
			if _, ok := meta.Shapes[k]; !ok {
				continue
			}
			w, ok := weights[k]
			if !ok {
				w = 1
			}
			sh := meta.Shapes[k]
			for br := 0; br < sh[0]/S; br++ {
				for bc := 0; bc < sh[1]/S; bc++ {
					b := scores.Block{Tensor: TensorName(l, k), Layer: l, Kind: k, Row: br, Col: bc}
					for i := range b.Scores {
						b.Scores[i] = w * r.Float32()
					}
					out = append(out, b)
				}
			}
		}
	}
	return meta, out
}
