package delta

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Matrix is the trained blocks of one weight matrix.
type Matrix struct {
	// Name is the Hugging Face tensor name, e.g.
	// "model.layers.3.self_attn.v_proj.weight".
	Name string
	// Rows and Cols give block i's position (Rows[i], Cols[i]) in block
	// units: it covers W[Rows[i]·S : +S, Cols[i]·S : +S].
	Rows, Cols []int32
	// Values holds the k blocks one after another, each S×S row-major:
	// k·S·S values.
	Values []float32
}

// Len returns the number of blocks.
func (m *Matrix) Len() int { return len(m.Rows) }

// Block returns block i's S×S values (a view into Values).
func (m *Matrix) Block(i, s int) []float32 { return m.Values[i*s*s : (i+1)*s*s] }

// check validates a matrix for block size s: a usable name, matching
// lengths, at least one block, non-negative and distinct positions.
func (m *Matrix) check(s int) error {
	if err := checkName(m.Name); err != nil {
		return err
	}
	k := len(m.Rows)
	if len(m.Cols) != k {
		return fmt.Errorf("tensor %q: %d block rows but %d block columns", m.Name, k, len(m.Cols))
	}
	if k == 0 {
		return fmt.Errorf("tensor %q has no blocks", m.Name)
	}
	if len(m.Values) != k*s*s {
		return fmt.Errorf("tensor %q: %d values, %d blocks of %d×%d need %d", m.Name, len(m.Values), k, s, s, k*s*s)
	}
	return checkPositions(m.Name, m.Rows, m.Cols)
}

// checkName rejects names that cannot be stored unambiguously.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a matrix has an empty name")
	case strings.Contains(name, "::"):
		return fmt.Errorf("tensor %q: a matrix name must not contain \"::\"", name)
	}
	return nil
}

// checkPositions rejects negative and repeated block positions.
func checkPositions(name string, rows, cols []int32) error {
	seen := make(map[[2]int32]int, len(rows))
	for i := range rows {
		p := [2]int32{rows[i], cols[i]}
		if p[0] < 0 || p[1] < 0 {
			return fmt.Errorf("tensor %q: block %d has a negative position (%d, %d)", name, i, p[0], p[1])
		}
		if j, dup := seen[p]; dup {
			return fmt.Errorf("tensor %q: blocks %d and %d are both at (%d, %d)", name, j, i, p[0], p[1])
		}
		seen[p] = i
	}
	return nil
}

// kindOrder is the order of a layer's tensors in a Hugging Face LLaMA
// checkpoint, by the name's suffix after "model.layers.N.".
var kindOrder = []string{
	"input_layernorm.weight",
	"self_attn.q_proj.weight",
	"self_attn.k_proj.weight",
	"self_attn.v_proj.weight",
	"self_attn.o_proj.weight",
	"post_attention_layernorm.weight",
	"mlp.gate_proj.weight",
	"mlp.up_proj.weight",
	"mlp.down_proj.weight",
}

// orderKey places a tensor name in the model's layout order: the
// embedding, then the layers in number order with their tensors in
// kindOrder, then the final norm and the head; names it does not know sort
// by name after the ones it knows of the same group.
type orderKey struct {
	group int    // 0 embedding, 1 layers, 2 final norm, 3 head, 4 other
	layer int    // layer number within group 1
	kind  int    // index in kindOrder, len(kindOrder) for unknown suffixes
	name  string // tie-break
}

func keyOf(name string) orderKey {
	switch name {
	case "model.embed_tokens.weight":
		return orderKey{group: 0, name: name}
	case "model.norm.weight":
		return orderKey{group: 2, name: name}
	case "lm_head.weight":
		return orderKey{group: 3, name: name}
	}
	if rest, ok := strings.CutPrefix(name, "model.layers."); ok {
		num, suffix, ok := strings.Cut(rest, ".")
		if l, err := strconv.Atoi(num); ok && err == nil && l >= 0 {
			k := slices.Index(kindOrder, suffix)
			if k < 0 {
				k = len(kindOrder)
			}
			return orderKey{group: 1, layer: l, kind: k, name: name}
		}
	}
	return orderKey{group: 4, name: name}
}

func compareKeys(a, b orderKey) int {
	return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.layer, b.layer),
		cmp.Compare(a.kind, b.kind), strings.Compare(a.name, b.name))
}

// sortLayout returns the matrices in the model's layout order (see orderKey).
func sortLayout(mats []Matrix) []Matrix {
	out := slices.Clone(mats)
	slices.SortStableFunc(out, func(a, b Matrix) int { return compareKeys(keyOf(a.Name), keyOf(b.Name)) })
	return out
}
