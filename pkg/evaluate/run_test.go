package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/eval"
	"github.com/smt-go/smt/pkg/prompt"
)

// copyModel copies the stories260K directory, editing config.json with
// edit.
func copyModel(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	src := storiesDir(t)
	dst := filepath.Join(t.TempDir(), "model")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "config.json" && edit != nil {
			var cfg map[string]any
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			edit(cfg)
			if b, err = json.Marshal(cfg); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func quiet() *cmdutil.Progress { return cmdutil.NewProgress("evaluate", cmdutil.Common{Quiet: true}) }

// Prompts that fill the model's context are counted and scored wrong with
// an empty generation; prompts close to it get a smaller budget.
func TestRunBoundsPromptsByContext(t *testing.T) {
	e := loadEngine(t, Decoding{MaxNewTokens: 16, Beams: 1, RepetitionPenalty: 1})
	var lengths []int
	for _, p := range testPrompts(t, e, 5) {
		lengths = append(lengths, len(p))
	}
	sorted := append([]int(nil), lengths...)
	sort.Ints(sorted)
	maxPos := sorted[len(sorted)/2]
	wantSkipped, wantCapped := 0, 0
	for _, n := range lengths {
		switch {
		case n >= maxPos:
			wantSkipped++
		case n+16 > maxPos:
			wantCapped++
		}
	}
	if wantSkipped == 0 || wantCapped == 0 {
		t.Fatalf("lengths %v give nothing to skip or cap at %d positions", lengths, maxPos)
	}
	dir := copyModel(t, func(c map[string]any) { c["max_position_embeddings"] = maxPos })
	out := filepath.Join(t.TempDir(), "run")
	opt := Options{Model: dir, Data: "testdata/dataset", Tasks: []string{"boolq", "ARC-Easy", "gsm8k"}, Out: out, Limit: 5, Batch: 4,
		Template: prompt.Default, Decoding: Decoding{MaxNewTokens: 16, Beams: 1, RepetitionPenalty: 1}}
	res, err := Run(context.Background(), opt, cpu.New32(2), quiet())
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != wantSkipped || res.Capped != wantCapped || res.Examples != 15 || res.Generated != 15 {
		t.Errorf("result %+v, want %d skipped and %d capped", res, wantSkipped, wantCapped)
	}
	preds, err := eval.Resume(filepath.Join(out, PredictionsFile))
	if err != nil {
		t.Fatal(err)
	}
	empty := 0
	for _, p := range preds.Predictions() {
		if p.Generation == "" {
			empty++
			if p.Correct {
				t.Errorf("%s %d: an empty generation scored correct", p.Task, p.ID)
			}
		}
	}
	if empty < wantSkipped {
		t.Errorf("%d empty generations for %d skipped prompts", empty, wantSkipped)
	}
	for _, tr := range res.Report.Tasks {
		if tr.N != 5 {
			t.Errorf("%s: N = %d, want 5 (skipped prompts count)", tr.Task, tr.N)
		}
	}
	if res.Report.Settings["prompts_too_long"] != wantSkipped {
		t.Errorf("report settings %v", res.Report.Settings)
	}
}

// A cancelled context stops after the batch in progress: its predictions
// are kept, a partial report is written, and ErrInterrupted returned.
// Changing the model's weights afterwards is refused.
func TestRunInterruptAndModelCheck(t *testing.T) {
	dir := copyModel(t, nil)
	out := filepath.Join(t.TempDir(), "run")
	opt := Options{Model: dir, Data: "testdata/dataset", Tasks: []string{"boolq", "gsm8k"}, Out: out, Limit: 4, Batch: 2,
		Template: prompt.Default, Decoding: Decoding{MaxNewTokens: 8, Beams: 1, RepetitionPenalty: 1}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, opt, cpu.New32(2), quiet())
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err %v, want ErrInterrupted", err)
	}
	if res.Generated != 2 {
		t.Errorf("%d examples written before stopping, want one batch of 2", res.Generated)
	}
	if r, err := eval.ReadReport(filepath.Join(out, eval.ReportJSON)); err != nil || r.Tasks[0].N != 2 {
		t.Errorf("partial report: %v %+v", err, r)
	}
	// Same size, other contents (and a new time): the hash catches it.
	w := filepath.Join(dir, "model.safetensors")
	b, _ := os.ReadFile(w)
	b[len(b)-1] ^= 1
	os.WriteFile(w, b, 0o644)
	_, err = Run(context.Background(), opt, cpu.New32(2), quiet())
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("changed weights: err %v, want a MismatchError", err)
	}
	b[len(b)-1] ^= 1
	os.WriteFile(w, b, 0o644)
	res, err = Run(context.Background(), opt, cpu.New32(2), quiet())
	if err != nil || res.Resumed != 2 || res.Generated != 6 {
		t.Fatalf("resume: %v %+v", err, res)
	}
}
