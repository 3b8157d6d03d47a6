// Command demo-report prints the before/after table of a pipeline run
// directory (the OUT of pipelines/pipeline.mk): accuracy of the base and
// the SMT-tuned model per task, held-out loss, trained fraction, memory of
// SMT against full fine-tuning, and time and peak memory per stage (from
// the stats file the stages append to when SMT_STATS_FILE is set).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/eval"
	"github.com/smt-go/smt/pkg/memstat"
)

func main() {
	app := &cli.App{
		Name:      "demo-report",
		Usage:     "print the before/after table of a pipeline run",
		UsageText: "demo-report --out demo-out [--stats demo-out/stats.jsonl] [--markdown]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Required: true, Usage: "the pipeline's output directory"},
			&cli.StringFlag{Name: "stats", Usage: "stage statistics (default OUT/stats.jsonl)"},
		},
		Action: func(c *cli.Context) error { return report(c.String("out"), c.String("stats")) },
	}
	cmdutil.Main(app)
}

type summary struct {
	Steps         int      `json:"steps"`
	Epochs        float64  `json:"epochs"`
	BaseEvalLoss  *float64 `json:"base_eval_loss"`
	BestEvalLoss  *float64 `json:"best_eval_loss"`
	BestStep      int      `json:"best_step"`
	Blocks        int      `json:"blocks"`
	TrainedParams int64    `json:"trained_params"`
	ModelParams   int64    `json:"model_params"`
	Memory        mem      `json:"memory"`
	FullFT        mem      `json:"full_fine_tuning_memory"`
}

type mem struct {
	Master, Gradients, Optimizer, Activations, Scratch, Weights int64
}

type stat struct {
	Stage   string   `json:"stage"`
	Args    []string `json:"args"`
	Seconds float64  `json:"seconds"`
	PeakRSS int64    `json:"peak_rss"`
	Exit    int      `json:"exit"`
}

func report(out, statsPath string) error {
	base, err := eval.ReadReport(filepath.Join(out, "eval-base", eval.ReportJSON))
	if err != nil {
		return err
	}
	smt, err := eval.ReadReport(filepath.Join(out, "eval-smt", eval.ReportJSON))
	if err != nil {
		return err
	}
	var sm summary
	b, err := os.ReadFile(filepath.Join(out, "run", "summary.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &sm); err != nil {
		return fmt.Errorf("%s/run/summary.json: %w", out, err)
	}
	if statsPath == "" {
		statsPath = filepath.Join(out, "stats.jsonl")
	}
	stats := readStats(statsPath)

	fmt.Println()
	fmt.Println("| | base model | after SMT |")
	fmt.Println("|---|---:|---:|")
	after := map[string]eval.TaskResult{}
	for _, t := range smt.Tasks {
		after[t.Task] = t
	}
	for _, t := range base.Tasks {
		a := after[t.Task]
		fmt.Printf("| %s accuracy (%d test examples) | %.1f%% (%d) | %.1f%% (%d) |\n", t.Task, t.N, 100*t.Accuracy, t.Correct, 100*a.Accuracy, a.Correct)
	}
	// The score of always giving each task's most frequent gold answer:
	// what a model that learned only the format can reach.
	if maj := majority(filepath.Join(out, "eval-smt", "predictions.jsonl")); len(maj) > 0 {
		for _, t := range base.Tasks {
			if m, ok := maj[t.Task]; ok {
				fmt.Printf("| %s: always answering %q (for reference) | %.1f%% | %.1f%% |\n", t.Task, m.answer, 100*m.acc, 100*m.acc)
			}
		}
	}
	if len(base.Tasks) > 1 {
		fmt.Printf("| average accuracy | %.1f%% | %.1f%% |\n", 100*base.Average, 100*smt.Average)
	}
	if sm.BaseEvalLoss != nil && sm.BestEvalLoss != nil {
		fmt.Printf("| held-out loss (response tokens) | %.4f | %.4f (step %d) |\n", *sm.BaseEvalLoss, *sm.BestEvalLoss, sm.BestStep)
	}
	fmt.Printf("| trained parameters | — | %d in %d blocks = %.2f%% of %d |\n", sm.TrainedParams, sm.Blocks,
		100*float64(sm.TrainedParams)/float64(sm.ModelParams), sm.ModelParams)
	fmt.Printf("| optimizer state + gradients | full fine-tuning: %s | %s |\n",
		memstat.Bytes(sm.FullFT.Optimizer+sm.FullFT.Gradients), memstat.Bytes(sm.Memory.Optimizer+sm.Memory.Gradients))
	fmt.Printf("| saved activations (one batch) | full fine-tuning: %s | %s |\n",
		memstat.Bytes(sm.FullFT.Activations), memstat.Bytes(sm.Memory.Activations))
	fmt.Printf("| training | | %d steps, %.1f epochs |\n", sm.Steps, sm.Epochs)

	if len(stats) > 0 {
		fmt.Println()
		fmt.Println("| stage | wall time | peak memory (RSS) |")
		fmt.Println("|---|---:|---:|")
		var total float64
		var peak int64
		for _, s := range stats {
			name := s.Stage
			if name == "evaluate" {
				for i, a := range s.Args {
					if a == "--out" && i+1 < len(s.Args) {
						name += " (" + filepath.Base(s.Args[i+1]) + ")"
					}
				}
			}
			fmt.Printf("| %s | %.1f s | %s |\n", name, s.Seconds, memstat.Bytes(s.PeakRSS))
			total += s.Seconds
			peak = max(peak, s.PeakRSS)
		}
		fmt.Printf("| all stages | %.1f s | %s |\n", total, memstat.Bytes(peak))
	}
	fmt.Println()
	fmt.Println("Outputs:")
	for _, f := range []string{"eval-base/report.md", "eval-smt/report.md", "eval-smt/predictions.jsonl", "blocks.png", "run/loss.png",
		"run/delta.safetensors", "run/metrics.jsonl", "merged/"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			fmt.Printf("  %s\n", filepath.Join(out, f))
		}
	}
	return nil
}

// readStats returns the last record of each stage run (by stage and
// output), in the order they ran.
func readStats(path string) []stat {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var all []stat
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s stat
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.Exit == 0 && s.Stage != "demo-report" && s.Stage != "plot-loss" {
			all = append(all, s)
		}
	}
	key := func(s stat) string { return s.Stage + " " + strings.Join(s.Args, " ") }
	last := map[string]int{}
	for i, s := range all {
		last[key(s)] = i
	}
	var out []stat
	for i, s := range all {
		if last[key(s)] == i {
			out = append(out, s)
		}
	}
	return out
}

type maj struct {
	answer string
	acc    float64
}

// majority returns, per task, the most frequent gold answer in a
// predictions file and its share.
func majority(path string) map[string]maj {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	counts := map[string]map[string]int{}
	totals := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var p struct{ Task, Gold string }
		if json.Unmarshal(sc.Bytes(), &p) != nil || p.Task == "" {
			continue
		}
		if counts[p.Task] == nil {
			counts[p.Task] = map[string]int{}
		}
		counts[p.Task][p.Gold]++
		totals[p.Task]++
	}
	out := map[string]maj{}
	for task, c := range counts {
		best, n := "", -1
		for a, k := range c {
			if k > n || (k == n && a < best) {
				best, n = a, k
			}
		}
		out[task] = maj{best, float64(n) / float64(totals[task])}
	}
	return out
}
