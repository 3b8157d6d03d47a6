package eval

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// predsFor makes n predictions of task with c correct.
func predsFor(task string, n, c int) []Prediction {
	ps := make([]Prediction, n)
	for i := range ps {
		ps[i] = Prediction{Task: task, ID: i, Correct: i < c}
	}
	return ps
}

// The SMT README's LLaMA3-8B SMT(0.71%) row, rebuilt from per-task counts
// on the real test-set sizes: BoolQ 75.7, PIQA 88.4, SIQA 81.4, HellaSwag
// 96.2, WinoGrande 88.2, ARC-e 92.7, ARC-c 83.2, OBQA 88.6; average 86.8.
var readmeCounts = map[string]int{
	"boolq": 2475, "piqa": 1625, "social_i_qa": 1590, "hellaswag": 9661,
	"winogrande": 1117, "ARC-Easy": 2202, "ARC-Challenge": 975, "openbookqa": 443,
}

func readmeReport(t *testing.T) *Report {
	t.Helper()
	var preds []Prediction
	// Put them in an unusual order; Summarize sorts into table order.
	for i := len(CommonsenseTasks) - 1; i >= 0; i-- {
		name := CommonsenseTasks[i]
		task, _ := Lookup(name)
		preds = append(preds, predsFor(name, task.Size, readmeCounts[name])...)
	}
	r := &Report{
		Model:      "LLaMA3-8B | SMT",
		Template:   "smt",
		Generation: Generation{Strategy: "beam", NumBeams: 4, MaxNewTokens: 256, RepetitionPenalty: 1.1, BatchSize: 4},
		Settings:   map[string]any{"dtype": "bf16", "device": "cuda"},
		StartedAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		FinishedAt: time.Date(2026, 1, 2, 4, 5, 6, 0, time.UTC),
	}
	r.SetTasks(Summarize(preds, nil))
	return r
}

func TestSummarizeReadmeRow(t *testing.T) {
	r := readmeReport(t)
	var got []string
	for _, tr := range r.Tasks {
		got = append(got, tr.Display+"="+Percent(tr.Accuracy))
		if tr.N != tr.Expected {
			t.Errorf("%s: n %d expected %d", tr.Task, tr.N, tr.Expected)
		}
	}
	want := "BoolQ=75.7 PIQA=88.4 SIQA=81.4 HellaSwag=96.2 WinoGrande=88.2 ARC-e=92.7 ARC-c=83.2 OBQA=88.6"
	if strings.Join(got, " ") != want {
		t.Errorf("tasks:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if Percent(r.Average) != "86.8" || len(r.Groups) != 1 || r.Groups[0].Group != GroupCommonsense || Percent(r.Groups[0].Average) != "86.8" {
		t.Errorf("average %v groups %+v", r.Average, r.Groups)
	}
}

func TestReportMarkdown(t *testing.T) {
	md := readmeReport(t).Markdown()
	for _, want := range []string{
		"# Evaluation: LLaMA3-8B \\| SMT\n",
		"## Commonsense reasoning\n\n| Model | BoolQ | PIQA | SIQA | HellaSwag | WinoGrande | ARC-e | ARC-c | OBQA | Avg |\n" +
			"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" +
			"| LLaMA3-8B \\| SMT | 75.7 | 88.4 | 81.4 | 96.2 | 88.2 | 92.7 | 83.2 | 88.6 | 86.8 |\n",
		"| boolq | 3270 | 2475 | 75.7 | 3270 |\n",
		"- generation: strategy beam, beams 4, max new tokens 256, repetition penalty 1.1, batch 4\n",
		"- finished: 2026-01-02 04:05:06 UTC (1h1m1s)\n",
		"- dtype: bf16\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Average over all") {
		t.Error("one group needs no overall line")
	}
}

func TestReportGroupsAndPartial(t *testing.T) {
	preds := append(predsFor("gsm8k", 10, 4), predsFor("boolq", 4, 3)...)
	preds = append(preds, predsFor("my-task", 2, 2)...)
	res := Summarize(preds, []string{"boolq", "piqa", "gsm8k", "my-task"})
	if len(res) != 4 || res[1].N != 0 || res[1].Accuracy != 0 || res[3].Group != "" || res[3].Display != "my-task" {
		t.Fatalf("results %+v", res)
	}
	var r Report
	r.SetTasks(res)
	// piqa has no predictions and is left out of the averages.
	if want := (0.75 + 0.4 + 1) / 3; math.Abs(r.Average-want) > 1e-12 {
		t.Errorf("average %v, want %v", r.Average, want)
	}
	if len(r.Groups) != 3 || r.Groups[0].Group != GroupCommonsense || r.Groups[1].Group != GroupMath || r.Groups[2].Group != "other" || r.Groups[0].Average != 0.75 {
		t.Errorf("groups %+v", r.Groups)
	}
	md := r.Markdown()
	for _, want := range []string{"## Arithmetic reasoning", "## Other tasks", "| piqa | 0 | 0 | – | 1838 (partial) |", "Average over all 3 tasks: **71.7**", "| my-task | 2 | 2 | 100.0 | – |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Only listed tasks are reported.
	if res := Summarize(preds, []string{"gsm8k"}); len(res) != 1 || res[0].Correct != 4 {
		t.Errorf("filtered %+v", res)
	}
	// nil: tasks with predictions in table order, unknown last.
	if res := Summarize(preds, nil); len(res) != 3 || res[0].Task != "boolq" || res[1].Task != "gsm8k" || res[2].Task != "my-task" {
		t.Errorf("nil order %+v", res)
	}
}

func TestWriteReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := readmeReport(t)
	if err := WriteReport(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(filepath.Join(dir, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	if back.Model != r.Model || len(back.Tasks) != 8 || back.Average != r.Average || !back.FinishedAt.Equal(r.FinishedAt) || back.Generation != r.Generation {
		t.Errorf("round trip: %+v", back)
	}
	data, _ := os.ReadFile(filepath.Join(dir, ReportJSON))
	for _, want := range []string{`"n": 3270`, `"correct": 2475`, `"display": "BoolQ"`, `"num_beams": 4`, `"started_at": "2026-01-02T03:04:05Z"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("report.json lacks %s", want)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	if string(md) != r.Markdown() {
		t.Error("report.md differs from Markdown()")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("leftover files: %v", entries)
	}
	if _, err := ReadReport(filepath.Join(dir, ReportMarkdown)); err == nil || !strings.Contains(err.Error(), ReportMarkdown) {
		t.Errorf("ReadReport(md) = %v", err)
	}
}
