// Package scores holds scores.arrow, the warm-up stage's output: one row
// per square block of every scored weight matrix, with the block's
// statistics of the gradients summed over the warm-up.
//
// With G = Σ_t g_t the signed sum of the per-step gradients of a matrix and
// A = Σ_t |g_t| the sum of their absolute values, each block b has
//
//	mean_abs       mean over b of |G|   ("average absolute gradient" — the paper; the released code's "abs_mean")
//	abs_mean       |mean over b of G|   (the released code's "mean_abs", its default for Q/K/V)
//	l1             Σ over b of |G|
//	l2             sqrt(Σ over b of G²)
//	mean_abs_step  mean over b of A     (average per-step absolute gradient; not in the reference)
//
// Schema (Arrow IPC file, one record batch per matrix):
//
//	tensor     utf8     Hugging Face name, e.g. model.layers.3.self_attn.v_proj.weight
//	layer      int32
//	kind       utf8     q, k, v, o, gate, up or down
//	block_row  int32    r: rows [r·S, r·S+S) of W [out, in] (output features)
//	block_col  int32    c: columns [c·S, c·S+S) (input features)
//	mean_abs, abs_mean, l1, l2, mean_abs_step   float32
//
// Schema metadata: see the Meta type.
package scores

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// Format identifies the file layout.
const Format = "smt-scores/1"

// Columns of the score values, in file order.
var ScoreColumns = []string{"mean_abs", "abs_mean", "l1", "l2", "mean_abs_step"}

// Schema is the Arrow schema of scores.arrow (without metadata).
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "tensor", Type: arrow.BinaryTypes.String},
	{Name: "layer", Type: arrow.PrimitiveTypes.Int32},
	{Name: "kind", Type: arrow.BinaryTypes.String},
	{Name: "block_row", Type: arrow.PrimitiveTypes.Int32},
	{Name: "block_col", Type: arrow.PrimitiveTypes.Int32},
	{Name: "mean_abs", Type: arrow.PrimitiveTypes.Float32},
	{Name: "abs_mean", Type: arrow.PrimitiveTypes.Float32},
	{Name: "l1", Type: arrow.PrimitiveTypes.Float32},
	{Name: "l2", Type: arrow.PrimitiveTypes.Float32},
	{Name: "mean_abs_step", Type: arrow.PrimitiveTypes.Float32},
}, nil)

// Meta is the schema metadata of scores.arrow (each field a string value
// under the key "smt.<json name>"; Matrices and Shapes JSON-encoded).
type Meta struct {
	BlockSize int    `json:"block_size"`
	Steps     int    `json:"steps"`   // warm-up optimizer steps
	Tokens    int64  `json:"tokens"`  // input tokens seen
	Targets   int64  `json:"targets"` // loss tokens seen
	Update    string `json:"update"`  // "none" or "adamw"
	ModelHash string `json:"model_hash"`
	DataHash  string `json:"data_hash"`
	// ModelParams2D is the number of parameters in all 2-D weights of the
	// model, embeddings and head included (the reference's budget base).
	ModelParams2D int64 `json:"model_params_2d"`
	// Shapes gives [out, in] of each scored matrix kind.
	Shapes map[string][2]int `json:"shapes"`
	Layers int               `json:"layers"`
}

// Encode returns the metadata as Arrow key/value pairs.
func (m Meta) Encode() arrow.Metadata {
	shapes, _ := json.Marshal(m.Shapes)
	kv := [][2]string{
		{"smt.format", Format},
		{"smt.block_size", strconv.Itoa(m.BlockSize)},
		{"smt.steps", strconv.Itoa(m.Steps)},
		{"smt.tokens", strconv.FormatInt(m.Tokens, 10)},
		{"smt.targets", strconv.FormatInt(m.Targets, 10)},
		{"smt.update", m.Update},
		{"smt.model_hash", m.ModelHash},
		{"smt.data_hash", m.DataHash},
		{"smt.model_params_2d", strconv.FormatInt(m.ModelParams2D, 10)},
		{"smt.shapes", string(shapes)},
		{"smt.layers", strconv.Itoa(m.Layers)},
	}
	keys, vals := make([]string, len(kv)), make([]string, len(kv))
	for i, p := range kv {
		keys[i], vals[i] = p[0], p[1]
	}
	return arrow.NewMetadata(keys, vals)
}

// DecodeMeta parses the metadata of a scores file.
func DecodeMeta(md arrow.Metadata) (Meta, error) {
	get := func(k string) string {
		if i := md.FindKey("smt." + k); i >= 0 {
			return md.Values()[i]
		}
		return ""
	}
	if f := get("format"); f != Format {
		return Meta{}, fmt.Errorf("format %q, expected %q (is this a scores.arrow written by warmup?)", f, Format)
	}
	var m Meta
	var err error
	num := func(k string) int64 {
		if err != nil {
			return 0
		}
		v, e := strconv.ParseInt(get(k), 10, 64)
		if e != nil {
			err = fmt.Errorf("metadata smt.%s: %w", k, e)
		}
		return v
	}
	m.BlockSize = int(num("block_size"))
	m.Steps = int(num("steps"))
	m.Tokens = num("tokens")
	m.Targets = num("targets")
	m.ModelParams2D = num("model_params_2d")
	m.Layers = int(num("layers"))
	if err != nil {
		return Meta{}, err
	}
	m.Update, m.ModelHash, m.DataHash = get("update"), get("model_hash"), get("data_hash")
	if e := json.Unmarshal([]byte(get("shapes")), &m.Shapes); e != nil {
		return Meta{}, fmt.Errorf("metadata smt.shapes: %w", e)
	}
	if m.BlockSize <= 0 {
		return Meta{}, fmt.Errorf("metadata smt.block_size %d must be positive", m.BlockSize)
	}
	return m, nil
}

// Block is one row of scores.arrow.
type Block struct {
	Tensor   string
	Layer    int
	Kind     string
	Row, Col int
	// Scores in ScoreColumns order: mean_abs, abs_mean, l1, l2, mean_abs_step.
	Scores [5]float32
}

// Score returns the named score.
func (b *Block) Score(col string) (float32, error) {
	for i, c := range ScoreColumns {
		if c == col {
			return b.Scores[i], nil
		}
	}
	return 0, fmt.Errorf("unknown score %q (want one of %v)", col, ScoreColumns)
}

// Compute returns the scores of every S×S block of a matrix [out, in] from
// its signed gradient sum G and absolute gradient sum A (A may be nil),
// block-row-major.
func Compute(G, A []float32, out, in, S int) [][5]float32 {
	R, C := out/S, in/S
	res := make([][5]float32, R*C)
	n := float64(S * S)
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			var sum, abs, sq, a float64
			for y := r * S; y < (r+1)*S; y++ {
				row := G[y*in+c*S : y*in+c*S+S]
				for _, g := range row {
					v := float64(g)
					sum += v
					abs += math.Abs(v)
					sq += v * v
				}
				if A != nil {
					for _, g := range A[y*in+c*S : y*in+c*S+S] {
						a += float64(g)
					}
				}
			}
			res[r*C+c] = [5]float32{float32(abs / n), float32(math.Abs(sum / n)), float32(abs), float32(math.Sqrt(sq)), float32(a / n)}
		}
	}
	return res
}
