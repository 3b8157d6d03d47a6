// Package llama2c reads model checkpoints in llama2.c's "legacy" format
// (version 0, as written by llama2.c's export for the tinyllamas models)
// and converts them to Hugging Face tensors.
//
// The file is 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len), then float32 tensors in this order:
// token_embedding [V, D], rms_att [L, D], wq [L, D, D], wk [L, KV, D],
// wv [L, KV, D], wo [L, D, D], rms_ffn [L, D], w1 [L, F, D], w2 [L, D, F],
// w3 [L, F, D], rms_final [D], freq_cis_real and freq_cis_imag
// [seq_len, head_size/2] (unused), and wcls [V, D] only when vocab_size is
// negative (an untied classifier).
package llama2c

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/smt-go/smt/pkg/llama"
)

// Header is the checkpoint's configuration.
type Header struct {
	Dim, HiddenDim, Layers, Heads, KVHeads, VocabSize, SeqLen int
	Shared                                                    bool // classifier tied to the embedding
}

// Checkpoint is a loaded llama2.c model.
type Checkpoint struct {
	Header
	// Tensors by llama2.c name: token_embedding, rms_att, wq, wk, wv, wo,
	// rms_ffn, w1, w2, w3, rms_final and (untied) wcls. Per-layer tensors
	// hold all layers back to back.
	Tensors map[string][]float32
}

// Read loads a checkpoint file.
func Read(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	ck, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("llama2c: %s: %w", path, err)
	}
	return ck, nil
}

// Parse decodes checkpoint bytes.
func Parse(b []byte) (*Checkpoint, error) {
	if len(b) < 28 {
		return nil, fmt.Errorf("file of %d bytes is shorter than the 28-byte header", len(b))
	}
	var h [7]int
	for i := range h {
		h[i] = int(int32(binary.LittleEndian.Uint32(b[4*i:])))
	}
	hd := Header{Dim: h[0], HiddenDim: h[1], Layers: h[2], Heads: h[3], KVHeads: h[4], VocabSize: h[5], SeqLen: h[6], Shared: h[5] > 0}
	if hd.VocabSize < 0 {
		hd.VocabSize = -hd.VocabSize
	}
	for i, v := range []int{hd.Dim, hd.HiddenDim, hd.Layers, hd.Heads, hd.KVHeads, hd.VocabSize, hd.SeqLen} {
		if v <= 0 || v > 1<<20 {
			return nil, fmt.Errorf("header field %d is %d, not a plausible size (is this a version-0 llama2.c checkpoint?)", i, v)
		}
	}
	if hd.Dim%hd.Heads != 0 || hd.Heads%hd.KVHeads != 0 || (hd.Dim/hd.Heads)%2 != 0 {
		return nil, fmt.Errorf("dim %d, n_heads %d, n_kv_heads %d do not give an even head size shared by whole groups", hd.Dim, hd.Heads, hd.KVHeads)
	}
	D, F, L, V := hd.Dim, hd.HiddenDim, hd.Layers, hd.VocabSize
	hs := D / hd.Heads
	KD := hd.KVHeads * hs
	order := []struct {
		name string
		n    int
	}{
		{"token_embedding", V * D}, {"rms_att", L * D}, {"wq", L * D * D}, {"wk", L * KD * D}, {"wv", L * KD * D},
		{"wo", L * D * D}, {"rms_ffn", L * D}, {"w1", L * F * D}, {"w2", L * D * F}, {"w3", L * F * D},
		{"rms_final", D}, {"freq_cis_real", hd.SeqLen * hs / 2}, {"freq_cis_imag", hd.SeqLen * hs / 2},
	}
	if !hd.Shared {
		order = append(order, struct {
			name string
			n    int
		}{"wcls", V * D})
	}
	need := 28
	for _, o := range order {
		need += 4 * o.n
	}
	if len(b) != need {
		return nil, fmt.Errorf("file has %d bytes; header %+v needs exactly %d", len(b), hd, need)
	}
	ck := &Checkpoint{Header: hd, Tensors: map[string][]float32{}}
	off := 28
	for _, o := range order {
		t := make([]float32, o.n)
		for i := range t {
			t[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*i:]))
		}
		off += 4 * o.n
		ck.Tensors[o.name] = t
	}
	return ck, nil
}

// Config returns the Hugging Face configuration of the model: RMSNorm eps
// 1e-5 and RoPE theta 10000 as llama2.c uses, BOS 1 and EOS 2.
func (ck *Checkpoint) Config() *llama.Config {
	return &llama.Config{
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: ck.Dim, IntermediateSize: ck.HiddenDim, NumHiddenLayers: ck.Layers,
		NumAttentionHeads: ck.Heads, NumKeyValueHeads: ck.KVHeads, HeadDim: ck.Dim / ck.Heads,
		RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: ck.Shared, VocabSize: ck.VocabSize,
		MaxPositionEmbeddings: ck.SeqLen, BOSTokenID: 1, EOSTokenIDs: []int{2}, TorchDType: "float32",
		HiddenAct: "silu", InitializerRng: 0.02,
	}
}

// PermuteRoPE reorders the rows of a query or key weight [heads·hs, in]
// from llama2.c's rotation of adjacent pairs (x[2i], x[2i+1]) to Hugging
// Face's rotation of halves (x[i], x[i+hs/2]): within each head, new row
// j·hs/2 + i is old row 2i + j. This is the permutation of Hugging Face's
// conversion script.
func PermuteRoPE(w []float32, heads, hs, in int) []float32 {
	out := make([]float32, len(w))
	half := hs / 2
	for h := 0; h < heads; h++ {
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				src := (h*hs + 2*i + j) * in
				dst := (h*hs + j*half + i) * in
				copy(out[dst:dst+in], w[src:src+in])
			}
		}
	}
	return out
}

// HFTensors returns the weights under their Hugging Face names, with the
// query and key rows permuted for Hugging Face's RoPE (see PermuteRoPE).
func (ck *Checkpoint) HFTensors() map[string][]float32 {
	D, F := ck.Dim, ck.HiddenDim
	hs := D / ck.Heads
	KD := ck.KVHeads * hs
	out := map[string][]float32{
		"model.embed_tokens.weight": ck.Tensors["token_embedding"],
		"model.norm.weight":         ck.Tensors["rms_final"],
	}
	if !ck.Shared {
		out["lm_head.weight"] = ck.Tensors["wcls"]
	}
	layer := func(name string, l, n int) []float32 { return ck.Tensors[name][l*n : (l+1)*n] }
	for l := 0; l < ck.Layers; l++ {
		p := "model.layers." + strconv.Itoa(l) + "."
		out[p+"input_layernorm.weight"] = layer("rms_att", l, D)
		out[p+"self_attn.q_proj.weight"] = PermuteRoPE(layer("wq", l, D*D), ck.Heads, hs, D)
		out[p+"self_attn.k_proj.weight"] = PermuteRoPE(layer("wk", l, KD*D), ck.KVHeads, hs, D)
		out[p+"self_attn.v_proj.weight"] = layer("wv", l, KD*D)
		out[p+"self_attn.o_proj.weight"] = layer("wo", l, D*D)
		out[p+"post_attention_layernorm.weight"] = layer("rms_ffn", l, D)
		out[p+"mlp.gate_proj.weight"] = layer("w1", l, F*D)
		out[p+"mlp.down_proj.weight"] = layer("w2", l, D*F)
		out[p+"mlp.up_proj.weight"] = layer("w3", l, F*D)
	}
	return out
}
