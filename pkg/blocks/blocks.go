// Package blocks holds blocks.arrow, the select stage's output: the block
// index that says which S×S blocks of which weight matrices SMT trains,
// and the selection policies that build it from scores.arrow.
//
// Block (r, c) of a matrix W [out, in] is W[r·S : r·S+S, c·S : c·S+S]: r
// runs over output features, c over input features (PyTorch y = x·Wᵀ).
//
// Schema (Arrow IPC file, one record batch per tensor):
//
//	tensor     utf8     Hugging Face name, e.g. model.layers.3.self_attn.v_proj.weight
//	layer      int32
//	kind       utf8     q, k, v, o, gate, up or down
//	block_row  int32    r
//	block_col  int32    c
//	score      float32  the score the block was ranked by
//	rank       int32    0 = best within its pool
//	pool       utf8     attn, mlp, mixed or matrix (per-matrix: the pool is the tensor)
//
// Rows are grouped by tensor in layout order (layer ascending, then q, k, v,
// o, gate, up, down) and, within a tensor, by rank: descending score, the
// order of the released SMT code's per-matrix block lists. Schema metadata:
// see Meta.
//
// Selection (Select) ranks the scored blocks of a pool by one score column
// (DefaultScore: mean_abs) and keeps the top n, n given by a Budget; the
// Policy says which pools there are. Equal scores are ordered as the
// released code's heap orders them, the larger ((module name, layer), row,
// col) tuple first with module names such as "v_proj" compared as strings,
// so a selection does not depend on the order of the scores file. Run is
// the whole select stage.
package blocks

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/smt-go/smt/pkg/llama"
)

// Format identifies the file layout.
const Format = "smt-blocks/1"

// Pool names (the pool column).
const (
	PoolAttn   = "attn"   // the Q/K/V blocks of every layer
	PoolMLP    = "mlp"    // the gate/up/down blocks of every layer
	PoolMixed  = "mixed"  // every scored block
	PoolMatrix = "matrix" // one pool per tensor (policy per-matrix)
)

// Pools lists the pool names.
var Pools = []string{PoolAttn, PoolMLP, PoolMixed, PoolMatrix}

// Schema is the Arrow schema of blocks.arrow (without metadata).
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "tensor", Type: arrow.BinaryTypes.String},
	{Name: "layer", Type: arrow.PrimitiveTypes.Int32},
	{Name: "kind", Type: arrow.BinaryTypes.String},
	{Name: "block_row", Type: arrow.PrimitiveTypes.Int32},
	{Name: "block_col", Type: arrow.PrimitiveTypes.Int32},
	{Name: "score", Type: arrow.PrimitiveTypes.Float32},
	{Name: "rank", Type: arrow.PrimitiveTypes.Int32},
	{Name: "pool", Type: arrow.BinaryTypes.String},
}, nil)

// Entry is one row of blocks.arrow: one selected block.
type Entry struct {
	Tensor   string // Hugging Face tensor name
	Layer    int
	Kind     string // q, k, v, o, gate, up or down
	Row, Col int    // block row (output features) and column (input features)
	Score    float32
	Rank     int    // 0 = best within Pool
	Pool     string // one of Pools
}

// Kinds lists the matrix kinds SMT can select from, in layout order.
var Kinds = []string{"q", "k", "v", "o", "gate", "up", "down"}

// KindIndex returns the position of a kind in Kinds (layout order), or an
// error for anything else.
func KindIndex(kind string) (int, error) {
	for i, k := range Kinds {
		if k == kind {
			return i, nil
		}
	}
	if k, err := llama.ParseKind(kind); err == nil {
		return 0, fmt.Errorf("kind %q (%v) is not a linear weight SMT can select blocks from (want one of %v)", kind, k, Kinds)
	}
	return 0, fmt.Errorf("unknown matrix kind %q (want one of %v)", kind, Kinds)
}

// IsMLP reports whether a kind is one of the MLP matrices gate, up, down.
func IsMLP(kind string) bool { return kind == "gate" || kind == "up" || kind == "down" }

// IsQKV reports whether a kind is q, k or v (the attention pool).
func IsQKV(kind string) bool { return kind == "q" || kind == "k" || kind == "v" }

// TensorName returns the Hugging Face name of a layer's matrix of a kind.
func TensorName(layer int, kind string) string {
	l := "model.layers." + strconv.Itoa(layer) + "."
	if IsMLP(kind) {
		return l + "mlp." + kind + "_proj.weight"
	}
	return l + "self_attn." + kind + "_proj.weight"
}

// less reports whether entry a comes before b in file order: layer, kind
// in layout order, then rank.
func less(a, b *Entry) bool {
	if a.Layer != b.Layer {
		return a.Layer < b.Layer
	}
	if a.Kind != b.Kind {
		ia, _ := KindIndex(a.Kind)
		ib, _ := KindIndex(b.Kind)
		return ia < ib
	}
	return a.Rank < b.Rank
}
