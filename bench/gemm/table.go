package main

import (
	"fmt"
	"io"
	"strings"
)

// printTable writes the results as a Markdown table.
func printTable(w io.Writer, pk peakInfo, shapes []shape, cols []column, res []map[string]float64, torch map[string]float64, threads int) {
	head := []string{"shape M×K×N", "op", "what"}
	for _, c := range cols {
		head = append(head, c.title)
	}
	if torch != nil {
		head = append(head, fmt.Sprintf("PyTorch %dT", threads))
	}
	head = append(head, "Go 1T % of 1-core peak", fmt.Sprintf("Go %dT %% of peak", threads))
	fmt.Fprintf(w, "GFLOP/s (float32; peak %.0f GFLOP/s on %d cores, %.0f on one)\n\n", pk.peak, pk.cores, pk.peak1)
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, s := range shapes {
		row := []string{s.name(), s.ops(), s.what}
		for i := range cols {
			row = append(row, fmt.Sprintf("%.0f", res[i][s.name()]))
		}
		if torch != nil {
			if v, ok := torch[s.name()]; ok {
				row = append(row, fmt.Sprintf("%.0f", v))
			} else {
				row = append(row, "–")
			}
		}
		row = append(row, pct(res[0][s.name()], pk.peak1), pct(res[1][s.name()], pk.peak))
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

func pct(v, peak float64) string {
	if peak == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*v/peak)
}
