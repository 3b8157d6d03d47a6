package blocks

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Meta is the schema metadata of blocks.arrow. Each field is stored as a
// string under "smt.<json name>"; Counts and Shapes are JSON objects, Kinds
// a comma-separated list.
type Meta struct {
	BlockSize int    `json:"block_size"`
	Policy    string `json:"policy"` // attn, attn+mlp, mixed or per-matrix
	Score     string `json:"score"`  // score column ranked by, or "reference"
	// Budget and MLPBudget are the budget specs as given on the command
	// line (MLPBudget empty when unused).
	Budget    string `json:"budget"`
	MLPBudget string `json:"mlp_budget"`
	// Kinds are the matrix kinds blocks could be selected from.
	Kinds []string `json:"kinds"`
	// Counts gives the number of blocks selected in each pool; PerMatrix
	// the number per tensor under the per-matrix policy (0 otherwise).
	Counts    map[string]int `json:"counts"`
	PerMatrix int            `json:"per_matrix"`
	// Copied from the scores file.
	ModelHash     string            `json:"model_hash"`
	Shapes        map[string][2]int `json:"shapes"` // [out, in] per scored kind
	Layers        int               `json:"layers"`
	ModelParams2D int64             `json:"model_params_2d"`
	Steps         int               `json:"steps"` // warm-up steps
	// ScoresSHA256 is the hex SHA-256 of the scores file selected from.
	ScoresSHA256 string `json:"scores_sha256"`
}

// Encode returns the metadata as Arrow key/value pairs.
func (m Meta) Encode() arrow.Metadata {
	counts, _ := json.Marshal(m.Counts)
	shapes, _ := json.Marshal(m.Shapes)
	kv := [][2]string{
		{"smt.format", Format},
		{"smt.block_size", strconv.Itoa(m.BlockSize)},
		{"smt.policy", m.Policy},
		{"smt.score", m.Score},
		{"smt.budget", m.Budget},
		{"smt.mlp_budget", m.MLPBudget},
		{"smt.kinds", strings.Join(m.Kinds, ",")},
		{"smt.counts", string(counts)},
		{"smt.per_matrix", strconv.Itoa(m.PerMatrix)},
		{"smt.model_hash", m.ModelHash},
		{"smt.shapes", string(shapes)},
		{"smt.layers", strconv.Itoa(m.Layers)},
		{"smt.model_params_2d", strconv.FormatInt(m.ModelParams2D, 10)},
		{"smt.steps", strconv.Itoa(m.Steps)},
		{"smt.scores_sha256", m.ScoresSHA256},
	}
	keys, vals := make([]string, len(kv)), make([]string, len(kv))
	for i, p := range kv {
		keys[i], vals[i] = p[0], p[1]
	}
	return arrow.NewMetadata(keys, vals)
}

// DecodeMeta parses and validates the metadata of a blocks file.
func DecodeMeta(md arrow.Metadata) (Meta, error) {
	get := func(k string) string {
		if i := md.FindKey("smt." + k); i >= 0 {
			return md.Values()[i]
		}
		return ""
	}
	if f := get("format"); f != Format {
		return Meta{}, fmt.Errorf("metadata smt.format %q, expected %q (is this a blocks.arrow written by select?)", f, Format)
	}
	var m Meta
	var err error
	num := func(k string, min int64) int64 {
		if err != nil {
			return 0
		}
		v, e := strconv.ParseInt(get(k), 10, 32)
		if k == "model_params_2d" {
			v, e = strconv.ParseInt(get(k), 10, 64)
		}
		if e != nil {
			err = fmt.Errorf("metadata smt.%s: %w", k, e)
		} else if v < min {
			err = fmt.Errorf("metadata smt.%s is %d, must be at least %d", k, v, min)
		}
		return v
	}
	m.BlockSize = int(num("block_size", 1))
	m.Layers = int(num("layers", 1))
	m.PerMatrix = int(num("per_matrix", 0))
	m.ModelParams2D = num("model_params_2d", 0)
	m.Steps = int(num("steps", 0))
	if err != nil {
		return Meta{}, err
	}
	m.Policy, m.Score = get("policy"), get("score")
	m.Budget, m.MLPBudget = get("budget"), get("mlp_budget")
	m.ModelHash, m.ScoresSHA256 = get("model_hash"), get("scores_sha256")
	if _, err := ParsePolicy(m.Policy); err != nil {
		return Meta{}, fmt.Errorf("metadata smt.policy: %w", err)
	}
	if err := CheckScore(m.Score); err != nil {
		return Meta{}, fmt.Errorf("metadata smt.score: %w", err)
	}
	if s := m.ScoresSHA256; s != "" {
		if _, e := hex.DecodeString(s); e != nil || len(s) != 64 {
			return Meta{}, fmt.Errorf("metadata smt.scores_sha256 %q is not a hex SHA-256", s)
		}
	}
	if k := get("kinds"); k != "" {
		m.Kinds = strings.Split(k, ",")
	}
	for _, k := range m.Kinds {
		if _, e := KindIndex(k); e != nil {
			return Meta{}, fmt.Errorf("metadata smt.kinds: %w", e)
		}
	}
	if e := json.Unmarshal([]byte(get("counts")), &m.Counts); e != nil {
		return Meta{}, fmt.Errorf("metadata smt.counts: %w", e)
	}
	for p, n := range m.Counts {
		if !slices.Contains(Pools, p) {
			return Meta{}, fmt.Errorf("metadata smt.counts: unknown pool %q (want one of %v)", p, Pools)
		}
		if n < 0 {
			return Meta{}, fmt.Errorf("metadata smt.counts: pool %s has %d blocks", p, n)
		}
	}
	if e := json.Unmarshal([]byte(get("shapes")), &m.Shapes); e != nil {
		return Meta{}, fmt.Errorf("metadata smt.shapes: %w", e)
	}
	for k, s := range m.Shapes {
		if _, e := KindIndex(k); e != nil {
			return Meta{}, fmt.Errorf("metadata smt.shapes: %w", e)
		}
		if s[0] < m.BlockSize || s[1] < m.BlockSize || s[0]%m.BlockSize != 0 || s[1]%m.BlockSize != 0 {
			return Meta{}, fmt.Errorf("metadata smt.shapes: %s is %d×%d, not a multiple of the block size %d", k, s[0], s[1], m.BlockSize)
		}
	}
	return m, nil
}
