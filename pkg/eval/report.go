package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// Report file names inside an output directory.
const (
	ReportJSON     = "report.json"
	ReportMarkdown = "report.md"
)

// TaskResult is the score of one task.
type TaskResult struct {
	// Task is the task name, e.g. "ARC-Easy".
	Task string `json:"task"`
	// Display is the paper's column header, e.g. "ARC-e".
	Display string `json:"display"`
	// Group is "commonsense" or "math" ("" for a task not in the registry).
	Group string `json:"group,omitempty"`
	// N is the number of examples scored.
	N int `json:"n"`
	// Correct is the number scored correct.
	Correct int `json:"correct"`
	// Accuracy is Correct/N (0 when N is 0).
	Accuracy float64 `json:"accuracy"`
	// Expected is the size of the test set, when the caller knows it; a
	// report with N < Expected is partial.
	Expected int `json:"expected,omitempty"`
}

// GroupResult is the unweighted mean accuracy over the tasks of a group.
type GroupResult struct {
	// Group is "commonsense", "math" or "other".
	Group string `json:"group"`
	// Tasks are the group's tasks with N > 0, in table order.
	Tasks []string `json:"tasks"`
	// Average is the unweighted mean of their accuracies.
	Average float64 `json:"average"`
}

// Generation records the generation settings of a run.
type Generation struct {
	// Strategy is "greedy", "beam" or "sample".
	Strategy string `json:"strategy"`
	// NumBeams is the beam width (the reference uses 4).
	NumBeams int `json:"num_beams,omitempty"`
	// MaxNewTokens caps each generation (the reference uses 256).
	MaxNewTokens int `json:"max_new_tokens"`
	// RepetitionPenalty is HF's repetition_penalty (the reference uses 1.1).
	RepetitionPenalty float64 `json:"repetition_penalty,omitempty"`
	// Temperature, TopP and TopK are the sampling settings, when sampling.
	Temperature float64 `json:"temperature,omitempty"`
	TopP        float64 `json:"top_p,omitempty"`
	TopK        int     `json:"top_k,omitempty"`
	// BatchSize is the number of prompts generated together.
	BatchSize int `json:"batch_size,omitempty"`
	// Seed is the sampling seed, when sampling.
	Seed int64 `json:"seed,omitempty"`
}

// Report is the summary of an evaluation run, written as report.json and
// report.md.
type Report struct {
	// Model names the evaluated model (its directory or a label).
	Model string `json:"model"`
	// Template is the prompt template name.
	Template string `json:"template"`
	// Generation holds the generation settings.
	Generation Generation `json:"generation"`
	// Settings holds anything else worth recording (device, dtype, data
	// directory, predictions file, ...).
	Settings map[string]any `json:"settings,omitempty"`
	// StartedAt and FinishedAt bound the run.
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Tasks are the per-task results in table order.
	Tasks []TaskResult `json:"tasks"`
	// Average is the unweighted mean accuracy over the tasks with N > 0.
	Average float64 `json:"average"`
	// Groups are the per-group unweighted means (commonsense, math, other).
	Groups []GroupResult `json:"groups,omitempty"`
}

// Summarize counts predictions per task. tasks gives the tasks to report
// and their order (tasks without predictions get N = 0); nil means every
// task that has predictions, in table order (unknown names last,
// alphabetically). Predictions of tasks not in a non-nil list are ignored.
// Expected is filled from the registry's test-set size.
func Summarize(preds []Prediction, tasks []string) []TaskResult {
	counts := map[string]*TaskResult{}
	for _, p := range preds {
		r := counts[p.Task]
		if r == nil {
			r = &TaskResult{Task: p.Task}
			counts[p.Task] = r
		}
		r.N++
		if p.Correct {
			r.Correct++
		}
	}
	if tasks == nil {
		for name := range counts {
			tasks = append(tasks, name)
		}
		sort.Slice(tasks, func(i, j int) bool {
			oi, oj := order(tasks[i]), order(tasks[j])
			if oi != oj {
				return oi < oj
			}
			return tasks[i] < tasks[j]
		})
	}
	out := make([]TaskResult, 0, len(tasks))
	for _, name := range tasks {
		r := TaskResult{Task: name}
		if c := counts[name]; c != nil {
			r = *c
		}
		r.Display = name
		if t, err := Lookup(name); err == nil && t.Name == name {
			r.Display, r.Group, r.Expected = t.Display, t.Group, t.Size
		}
		if r.N > 0 {
			r.Accuracy = float64(r.Correct) / float64(r.N)
		}
		out = append(out, r)
	}
	return out
}

// SetTasks stores results in r and computes the overall and per-group
// averages: unweighted means of the task accuracies, over tasks with N > 0
// (as the papers average the 8 commonsense tasks).
func (r *Report) SetTasks(results []TaskResult) {
	r.Tasks = results
	r.Average = 0
	r.Groups = nil
	var sum float64
	var n int
	byGroup := map[string]*GroupResult{}
	var groupOrder []string
	for _, t := range results {
		if t.N == 0 {
			continue
		}
		sum += t.Accuracy
		n++
		g := t.Group
		if g == "" {
			g = "other"
		}
		gr := byGroup[g]
		if gr == nil {
			gr = &GroupResult{Group: g}
			byGroup[g] = gr
			groupOrder = append(groupOrder, g)
		}
		gr.Tasks = append(gr.Tasks, t.Task)
		gr.Average += t.Accuracy
	}
	if n > 0 {
		r.Average = sum / float64(n)
	}
	for _, g := range groupOrder {
		gr := byGroup[g]
		gr.Average /= float64(len(gr.Tasks))
		r.Groups = append(r.Groups, *gr)
	}
}

// MarshalIndent returns the report as indented JSON with a final newline.
func (r *Report) MarshalIndent() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("eval: encode report: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteReportJSON writes r to path atomically.
func WriteReportJSON(path string, r *Report) error {
	data, err := r.MarshalIndent()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("eval: write report: %w", err)
	}
	return nil
}

// WriteReportMarkdown writes r's Markdown rendering to path atomically.
func WriteReportMarkdown(path string, r *Report) error {
	if err := atomicfile.WriteFile(path, []byte(r.Markdown())); err != nil {
		return fmt.Errorf("eval: write report: %w", err)
	}
	return nil
}

// WriteReport writes report.json and report.md into dir (created if
// missing), each atomically.
func WriteReport(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: write report: %w", err)
	}
	if err := WriteReportJSON(filepath.Join(dir, ReportJSON), r); err != nil {
		return err
	}
	return WriteReportMarkdown(filepath.Join(dir, ReportMarkdown), r)
}

// ReadReport reads a report.json.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("eval: read report %s: %w", path, err)
	}
	return &r, nil
}
