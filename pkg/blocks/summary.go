package blocks

import (
	"fmt"
	"io"
	"strings"
)

// Summary describes a selection for people (WriteText) and programs (its
// JSON form).
type Summary struct {
	Scores  string `json:"scores"`
	Out     string `json:"out"`
	Heatmap string `json:"heatmap,omitempty"`
	Model   string `json:"model,omitempty"` // the model directory checked against

	Policy    string `json:"policy"`
	Score     string `json:"score"`
	BlockSize int    `json:"block_size"`
	Layers    int    `json:"layers"`
	// ModelParams2D and ModelBlocks (= ModelParams2D / S²) are the base of
	// fractional budgets and of Percent.
	ModelParams2D int64   `json:"model_params_2d"`
	ModelBlocks   float64 `json:"model_blocks"`

	Selected int     `json:"selected"` // blocks
	Tensors  int     `json:"tensors"`  // tensors with at least one block
	Params   int64   `json:"params"`   // Selected × S²
	Percent  float64 `json:"percent"`  // Params / ModelParams2D × 100 (0 when unknown)

	Pools    []PoolResult   `json:"pools"`
	Kinds    []KindSummary  `json:"kinds"`     // scored kinds, layout order
	PerLayer []LayerSummary `json:"per_layer"` // every layer
}

// KindSummary counts the blocks selected from one kind of matrix.
type KindSummary struct {
	Kind       string  `json:"kind"`
	Selected   int     `json:"selected"`
	Blocks     int     `json:"blocks"`   // blocks of this kind over all layers
	Fraction   float64 `json:"fraction"` // Selected / Blocks
	GridRows   int     `json:"grid_rows"`
	GridCols   int     `json:"grid_cols"`
	Selectable bool    `json:"selectable"` // in a pool of the policy
}

// LayerSummary counts the blocks selected in one layer, per kind.
type LayerSummary struct {
	Layer  int            `json:"layer"`
	Blocks map[string]int `json:"blocks"`
	Total  int            `json:"total"`
}

// Summarize describes a selection result; the file paths are filled in by
// the caller.
func Summarize(r *Result) *Summary {
	m := r.Meta
	S := m.BlockSize
	s := &Summary{Policy: m.Policy, Score: m.Score, BlockSize: S, Layers: m.Layers, ModelParams2D: m.ModelParams2D,
		ModelBlocks: TotalBlocks(m.ModelParams2D, S), Selected: len(r.Entries), Pools: r.Pools}
	s.Params = int64(s.Selected) * int64(S) * int64(S)
	if m.ModelParams2D > 0 {
		s.Percent = 100 * float64(s.Params) / float64(m.ModelParams2D)
	}
	s.Tensors = len(Tables(r.Entries))
	byKind := map[string]int{}
	s.PerLayer = make([]LayerSummary, m.Layers)
	for i := range s.PerLayer {
		s.PerLayer[i] = LayerSummary{Layer: i, Blocks: map[string]int{}}
	}
	for _, e := range r.Entries {
		byKind[e.Kind]++
		s.PerLayer[e.Layer].Blocks[e.Kind]++
		s.PerLayer[e.Layer].Total++
	}
	for _, k := range Kinds {
		sh, ok := m.Shapes[k]
		if !ok {
			continue
		}
		ks := KindSummary{Kind: k, Selected: byKind[k], GridRows: sh[0] / S, GridCols: sh[1] / S}
		ks.Blocks = m.Layers * ks.GridRows * ks.GridCols
		ks.Fraction = float64(ks.Selected) / float64(ks.Blocks)
		for _, p := range r.Pools {
			for _, pk := range p.Kinds {
				ks.Selectable = ks.Selectable || pk == k
			}
		}
		s.Kinds = append(s.Kinds, ks)
	}
	return s
}

// WriteText writes the summary as a few aligned tables.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "selected   %s blocks of %d×%d = %s parameters", thousands(int64(s.Selected)), s.BlockSize, s.BlockSize, human(s.Params))
	if s.ModelParams2D > 0 {
		fmt.Fprintf(&b, " = %.3f%% of the model's %s 2-D parameters (%s blocks)", s.Percent, human(s.ModelParams2D), trimFloat(s.ModelBlocks))
	}
	fmt.Fprintf(&b, "\npolicy     %s, score %s, %d layers, %d tensors with blocks\n", s.Policy, s.Score, s.Layers, s.Tensors)
	b.WriteString("\nbudget\n")
	tw := newTable("pool", "kinds", "budget", "blocks", "of pool", "params", "% model", "resolution")
	for _, p := range s.Pools {
		params := int64(p.Selected) * int64(s.BlockSize) * int64(s.BlockSize)
		pct := "-"
		if s.ModelParams2D > 0 {
			pct = fmt.Sprintf("%.3f%%", 100*float64(params)/float64(s.ModelParams2D))
		}
		res := p.Resolution
		if p.PerMatrix > 0 {
			res += fmt.Sprintf("; %d per matrix × %d matrices", p.PerMatrix, p.Matrices)
		}
		tw.row(p.Name, strings.Join(p.Kinds, ","), p.Budget, thousands(int64(p.Selected)), thousands(int64(p.Available)), human(params), pct, res)
	}
	tw.write(&b, "  ")
	b.WriteString("\nper kind\n")
	tw = newTable("kind", "blocks", "of kind", "share", "grid")
	for _, k := range s.Kinds {
		sel := thousands(int64(k.Selected))
		if !k.Selectable {
			sel = "-"
		}
		tw.row(k.Kind, sel, thousands(int64(k.Blocks)), fmt.Sprintf("%.2f%%", 100*k.Fraction), fmt.Sprintf("%d×%d", k.GridRows, k.GridCols))
	}
	tw.write(&b, "  ")
	b.WriteString("\nper layer (blocks per matrix; . = none)\n")
	head := []string{"layer"}
	for _, k := range s.Kinds {
		head = append(head, k.Kind)
	}
	tw = newTable(append(head, "total")...)
	totals := make([]int, len(s.Kinds))
	for _, l := range s.PerLayer {
		cells := []string{fmt.Sprint(l.Layer)}
		for i, k := range s.Kinds {
			n := l.Blocks[k.Kind]
			totals[i] += n
			cells = append(cells, dot(n))
		}
		tw.row(append(cells, dot(l.Total))...)
	}
	cells := []string{"all"}
	for _, n := range totals {
		cells = append(cells, fmt.Sprint(n))
	}
	tw.row(append(cells, fmt.Sprint(s.Selected))...)
	tw.write(&b, "  ")
	fmt.Fprintf(&b, "\nscores     %s\nblocks     %s\n", s.Scores, s.Out)
	if s.Heatmap != "" {
		fmt.Fprintf(&b, "heat map   %s\n", s.Heatmap)
	}
	if s.Model != "" {
		fmt.Fprintf(&b, "model      %s (shapes and layers match)\n", s.Model)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dot(n int) string {
	if n == 0 {
		return "."
	}
	return fmt.Sprint(n)
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// human formats a parameter count as 56.56M, 6.74B, 12.3K or 512.
func human(n int64) string {
	switch f := float64(n); {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", f/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", f/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fK", f/1e3)
	}
	return fmt.Sprint(n)
}

func trimFloat(f float64) string {
	if f == float64(int64(f)) {
		return thousands(int64(f))
	}
	return fmt.Sprintf("%.2f", f)
}

// table aligns columns: the first left-aligned, the others right-aligned
// except the last, which is left-aligned too when it is free text.
type table struct {
	rows [][]string
}

func newTable(head ...string) *table { return &table{rows: [][]string{head}} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder, indent string) {
	width := make([]int, len(t.rows[0]))
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range t.rows {
		b.WriteString(indent)
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			case i == len(r)-1 && t.rows[0][i] == "resolution":
				b.WriteString("  " + c)
			case i == 1 && t.rows[0][1] == "kinds", i == 2 && t.rows[0][2] == "budget":
				b.WriteString("  " + c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		b.WriteString("\n")
	}
}
