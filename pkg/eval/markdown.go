package eval

import (
	"fmt"
	"sort"
	"strings"
)

// Percent formats an accuracy (a fraction) as the papers do: ×100 with one
// decimal, e.g. 0.8675 → "86.8" (rounded half to even on the exact binary
// value, like Python's "{:.1f}").
func Percent(acc float64) string { return fmt.Sprintf("%.1f", acc*100) }

// Markdown renders the report: one table per group in the layout of the
// papers (one column per task, then the group's average), the overall
// average when there is more than one group, a per-task table with counts,
// and the settings.
func (r *Report) Markdown() string {
	var b strings.Builder
	model := r.Model
	if model == "" {
		model = "model"
	}
	fmt.Fprintf(&b, "# Evaluation: %s\n\n", mdEscape(model))

	for _, g := range r.Groups {
		fmt.Fprintf(&b, "## %s\n\n", groupTitle(g.Group))
		header := []string{"Model"}
		row := []string{mdEscape(model)}
		for _, name := range g.Tasks {
			for _, t := range r.Tasks {
				if t.Task == name {
					header = append(header, mdEscape(t.Display))
					row = append(row, Percent(t.Accuracy))
				}
			}
		}
		header = append(header, "Avg")
		row = append(row, Percent(g.Average))
		writeRow(&b, header)
		align := make([]string, len(header))
		align[0] = "---"
		for i := 1; i < len(align); i++ {
			align[i] = "---:"
		}
		writeRow(&b, align)
		writeRow(&b, row)
		b.WriteString("\n")
	}
	if len(r.Groups) > 1 {
		n := 0
		for _, g := range r.Groups {
			n += len(g.Tasks)
		}
		fmt.Fprintf(&b, "Average over all %d tasks: **%s**\n\n", n, Percent(r.Average))
	}

	b.WriteString("## Per task\n\n")
	writeRow(&b, []string{"Task", "N", "Correct", "Accuracy", "Test set"})
	writeRow(&b, []string{"---", "---:", "---:", "---:", "---:"})
	for _, t := range r.Tasks {
		acc := Percent(t.Accuracy)
		if t.N == 0 {
			acc = "–"
		}
		size := "–"
		if t.Expected > 0 {
			size = fmt.Sprint(t.Expected)
			if t.N < t.Expected {
				size += " (partial)"
			}
		}
		writeRow(&b, []string{mdEscape(t.Task), fmt.Sprint(t.N), fmt.Sprint(t.Correct), acc, size})
	}
	b.WriteString("\n## Settings\n\n")
	fmt.Fprintf(&b, "- template: `%s`\n", r.Template)
	g := r.Generation
	gen := []string{"strategy " + orDash(g.Strategy)}
	if g.NumBeams > 0 {
		gen = append(gen, fmt.Sprintf("beams %d", g.NumBeams))
	}
	gen = append(gen, fmt.Sprintf("max new tokens %d", g.MaxNewTokens))
	if g.RepetitionPenalty != 0 {
		gen = append(gen, fmt.Sprintf("repetition penalty %g", g.RepetitionPenalty))
	}
	if g.Temperature != 0 {
		gen = append(gen, fmt.Sprintf("temperature %g", g.Temperature))
	}
	if g.TopP != 0 {
		gen = append(gen, fmt.Sprintf("top-p %g", g.TopP))
	}
	if g.TopK != 0 {
		gen = append(gen, fmt.Sprintf("top-k %d", g.TopK))
	}
	if g.BatchSize != 0 {
		gen = append(gen, fmt.Sprintf("batch %d", g.BatchSize))
	}
	if g.Seed != 0 {
		gen = append(gen, fmt.Sprintf("seed %d", g.Seed))
	}
	fmt.Fprintf(&b, "- generation: %s\n", strings.Join(gen, ", "))
	if !r.StartedAt.IsZero() {
		fmt.Fprintf(&b, "- started: %s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if !r.FinishedAt.IsZero() {
		fmt.Fprintf(&b, "- finished: %s", r.FinishedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		if !r.StartedAt.IsZero() {
			fmt.Fprintf(&b, " (%s)", r.FinishedAt.Sub(r.StartedAt).Round(1e9))
		}
		b.WriteString("\n")
	}
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %v\n", mdEscape(k), mdEscape(fmt.Sprint(r.Settings[k])))
	}
	return b.String()
}

func groupTitle(g string) string {
	switch g {
	case GroupCommonsense:
		return "Commonsense reasoning"
	case GroupMath:
		return "Arithmetic reasoning"
	}
	return "Other tasks"
}

func writeRow(b *strings.Builder, cells []string) {
	b.WriteString("| ")
	b.WriteString(strings.Join(cells, " | "))
	b.WriteString(" |\n")
}

// mdEscape keeps a cell on one line and its pipes literal.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
