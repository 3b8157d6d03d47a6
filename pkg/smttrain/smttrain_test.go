package smttrain

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/smt-go/smt/internal/testshards"
	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/blocks"
	"github.com/smt-go/smt/pkg/delta"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/train"
	"github.com/smt-go/smt/pkg/warmup"
)

func stories(t *testing.T) (*llama.Model, string) {
	t.Helper()
	dir := testutil.RepoRoot(t) + "/models/stories260K"
	m, err := llama.Load(dir, cpu.New32(2))
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// TestPipelineLowersHeldOutLoss runs warmup → select → train on
// stories260K with real LLM-Adapters data and checks that the held-out loss
// goes down, that the delta holds the selected blocks, and that the memory
// report puts the optimizer state at the trained fraction of full
// fine-tuning's.
func TestPipelineLowersHeldOutLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a while")
	}
	data := testshards.Build(t, "llm-adapters/dataset/boolq/train.json", 160, 40, 256)
	work := t.TempDir()
	m, modelDir := stories(t)
	sc := filepath.Join(work, "scores.arrow")
	_, err := warmup.Run(context.Background(), m, warmup.Options{Model: modelDir, Shards: data, Out: sc, Steps: 4, Batch: 8, Seed: 1,
		Update: "none", Kinds: []llama.Kind{llama.Q, llama.K, llama.V}, BlockSize: 16,
		Opt: train.Options{Schedule: "constant", Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Accum: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bl := filepath.Join(work, "blocks.arrow")
	budget, _ := blocks.ParseBudget("24")
	if _, err := blocks.Run(blocks.RunOptions{Scores: sc, Out: bl, Model: modelDir,
		Select: blocks.Options{Policy: "attn", Score: "mean_abs", Budget: budget}}, nil); err != nil {
		t.Fatal(err)
	}
	m, _ = stories(t) // a fresh base
	run := filepath.Join(work, "run")
	res, err := Run(context.Background(), m, Options{Model: modelDir, Shards: data, Blocks: bl, Out: run,
		Steps: 60, Batch: 8, Seed: 1, EvalEvery: 20, Keep: "best",
		Opt: train.Options{LR: 3e-3, Schedule: "linear", Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1, Accum: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out loss %.4f → %.4f (step %d); train loss %.4f → %.4f", res.BaseEvalLoss, res.BestEvalLoss, res.BestStep, res.FirstLoss, res.LastLoss)
	if math.IsNaN(res.BaseEvalLoss) || !(res.BestEvalLoss < res.BaseEvalLoss-0.05) {
		t.Fatalf("held-out loss did not go down: %.4f → %.4f", res.BaseEvalLoss, res.BestEvalLoss)
	}
	if res.Blocks != 24 || res.TrainedParams != 24*16*16 {
		t.Fatalf("%d blocks, %d values", res.Blocks, res.TrainedParams)
	}
	// Optimizer state: 2 float32 moments per trained value, against 2 per
	// parameter for full fine-tuning.
	wantRatio := float64(res.TrainedParams) / float64(res.ModelParams)
	if got := float64(res.Memory.Optimizer) / float64(res.FullFT.Optimizer); math.Abs(got-wantRatio) > 1e-12 {
		t.Fatalf("optimizer memory ratio %g, want %g", got, wantRatio)
	}
	if res.Memory.Activations >= res.FullFT.Activations {
		t.Fatalf("SMT saves %d bytes of activations, full fine-tuning %d", res.Memory.Activations, res.FullFT.Activations)
	}
	meta, mats, err := delta.Read(res.Delta)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mt := range mats {
		n += len(mt.Rows)
	}
	if n != 24 || meta.BlockSize != 16 || meta.Kept != "best" || meta.Step != res.BestStep {
		t.Fatalf("delta: %d blocks, meta %+v", n, meta)
	}
}
