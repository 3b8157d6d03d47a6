package llama

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind names a parameter tensor's role.
type Kind uint8

// Parameter kinds. The linear kinds (Q … Down) are the matrices SMT can
// select blocks from.
const (
	Embed Kind = iota
	AttnNorm
	Q
	K
	V
	O
	MLPNorm
	Gate
	Up
	Down
	FinalNorm
	Head
	numKinds
)

var kindNames = [...]string{"embed", "attn_norm", "q", "k", "v", "o", "mlp_norm", "gate", "up", "down", "final_norm", "head"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind parses a kind name as written by String ("q", "gate", …).
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown matrix kind %q (want one of %s)", s, strings.Join(kindNames[:], ", "))
}

// IsLinear reports whether the kind is one of the seven per-layer linear
// weights.
func (k Kind) IsLinear() bool { return k >= Q && k <= Down && k != MLPNorm }

// PerLayer reports whether a tensor of this kind exists in every layer.
func (k Kind) PerLayer() bool { return k >= AttnNorm && k <= Down }

// hfName returns the Hugging Face tensor name.
func hfName(k Kind, layer int) string {
	l := "model.layers." + strconv.Itoa(layer) + "."
	switch k {
	case Embed:
		return "model.embed_tokens.weight"
	case AttnNorm:
		return l + "input_layernorm.weight"
	case Q:
		return l + "self_attn.q_proj.weight"
	case K:
		return l + "self_attn.k_proj.weight"
	case V:
		return l + "self_attn.v_proj.weight"
	case O:
		return l + "self_attn.o_proj.weight"
	case MLPNorm:
		return l + "post_attention_layernorm.weight"
	case Gate:
		return l + "mlp.gate_proj.weight"
	case Up:
		return l + "mlp.up_proj.weight"
	case Down:
		return l + "mlp.down_proj.weight"
	case FinalNorm:
		return "model.norm.weight"
	case Head:
		return "lm_head.weight"
	}
	panic("llama: bad kind")
}

// Tensor describes one parameter tensor inside the flat parameter buffer.
type Tensor struct {
	Name   string // Hugging Face name, e.g. model.layers.3.self_attn.v_proj.weight
	Kind   Kind
	Layer  int    // -1 for tensors outside the layers
	Shape  []int  // [rows, cols] for matrices ([out, in] for linear weights), [n] for norms
	Offset int    // first element in the flat buffer
	Size   int    // number of elements
	Why    string // what the shape is made of, for error messages
}

// Rows returns the first dimension.
func (t *Tensor) Rows() int { return t.Shape[0] }

// Cols returns the second dimension (1 for vectors).
func (t *Tensor) Cols() int {
	if len(t.Shape) < 2 {
		return 1
	}
	return t.Shape[1]
}

// Layout places every parameter tensor of a model in one flat buffer, in
// this order (the order of a Hugging Face checkpoint):
//
//	model.embed_tokens.weight                  [V, D]
//	for each layer l:
//	  input_layernorm.weight                   [D]
//	  self_attn.q_proj.weight                  [H·HD, D]
//	  self_attn.k_proj.weight                  [KV·HD, D]
//	  self_attn.v_proj.weight                  [KV·HD, D]
//	  self_attn.o_proj.weight                  [D, H·HD]
//	  post_attention_layernorm.weight          [D]
//	  mlp.gate_proj.weight                     [F, D]
//	  mlp.up_proj.weight                       [F, D]
//	  mlp.down_proj.weight                     [D, F]
//	model.norm.weight                          [D]
//	lm_head.weight                             [V, D]  (absent when tied)
type Layout struct {
	Tensors []Tensor
	Total   int // elements in the buffer
	index   map[string]int
	perLyr  [][numKinds]int // tensor index of each kind per layer
	global  [numKinds]int
}

// NewLayout computes the layout of a configuration.
func NewLayout(c *Config) *Layout {
	D, F, NV := c.HiddenSize, c.IntermediateSize, c.VocabSize
	QD, KD := c.QDim(), c.KVDim()
	lay := &Layout{index: map[string]int{}, perLyr: make([][numKinds]int, c.NumHiddenLayers)}
	add := func(k Kind, layer int, why string, shape ...int) {
		n := 1
		for _, s := range shape {
			n *= s
		}
		t := Tensor{Name: hfName(k, max(layer, 0)), Kind: k, Layer: layer, Shape: shape, Offset: lay.Total, Size: n, Why: why}
		lay.index[t.Name] = len(lay.Tensors)
		if layer >= 0 {
			lay.perLyr[layer][k] = len(lay.Tensors)
		} else {
			lay.global[k] = len(lay.Tensors)
		}
		lay.Tensors = append(lay.Tensors, t)
		lay.Total += n
	}
	add(Embed, -1, "vocab_size × hidden_size", NV, D)
	for l := 0; l < c.NumHiddenLayers; l++ {
		add(AttnNorm, l, "hidden_size", D)
		add(Q, l, "num_attention_heads·head_dim × hidden_size", QD, D)
		add(K, l, "num_key_value_heads·head_dim × hidden_size", KD, D)
		add(V, l, "num_key_value_heads·head_dim × hidden_size", KD, D)
		add(O, l, "hidden_size × num_attention_heads·head_dim", D, QD)
		add(MLPNorm, l, "hidden_size", D)
		add(Gate, l, "intermediate_size × hidden_size", F, D)
		add(Up, l, "intermediate_size × hidden_size", F, D)
		add(Down, l, "hidden_size × intermediate_size", D, F)
	}
	add(FinalNorm, -1, "hidden_size", D)
	if !c.TieWordEmbeddings {
		add(Head, -1, "vocab_size × hidden_size", NV, D)
	} else {
		lay.global[Head] = lay.global[Embed]
	}
	return lay
}

// Get returns the tensor of a kind in a layer (layer is ignored for the
// embedding, final norm and head; a tied head returns the embedding).
func (l *Layout) Get(k Kind, layer int) *Tensor { return &l.Tensors[l.Index(k, layer)] }

// Index returns the position in Tensors of a kind's tensor in a layer (a
// tied head gives the embedding's index).
func (l *Layout) Index(k Kind, layer int) int {
	if k.PerLayer() {
		return l.perLyr[layer][k]
	}
	return l.global[k]
}

// ByName returns the tensor with a Hugging Face name.
func (l *Layout) ByName(name string) (*Tensor, bool) {
	i, ok := l.index[name]
	if !ok {
		return nil, false
	}
	return &l.Tensors[i], true
}

// Layers returns the number of layers.
func (l *Layout) Layers() int { return len(l.perLyr) }
