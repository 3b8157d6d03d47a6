package blocks

import (
	"slices"
	"sort"
)

// Table lists the selected blocks of one tensor: block i is (Rows[i],
// Cols[i]). The training stage turns it into a backend.BlockTable.
type Table struct {
	Layer      int
	Kind       string
	Rows, Cols []int32
}

// Len is the number of blocks.
func (t Table) Len() int { return len(t.Rows) }

// Tables groups entries by tensor name, keeping file order within each
// tensor (best block first).
func Tables(entries []Entry) map[string]Table {
	out := map[string]Table{}
	for i := range entries {
		e := &entries[i]
		t := out[e.Tensor]
		t.Layer, t.Kind = e.Layer, e.Kind
		t.Rows = append(t.Rows, int32(e.Row))
		t.Cols = append(t.Cols, int32(e.Col))
		out[e.Tensor] = t
	}
	return out
}

// SortFile puts entries in file order: by layer, kind in layout order
// (q, k, v, o, gate, up, down), then rank.
func SortFile(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool { return less(&entries[i], &entries[j]) })
}

// sortedKeys returns the keys of a map in ascending order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
