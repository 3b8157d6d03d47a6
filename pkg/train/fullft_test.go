package train

import (
	"testing"

	"github.com/smt-go/smt/internal/testshards"
	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/shards"
)

// Full fine-tuning of every parameter of stories260K on real LLM-Adapters
// data (ARC-Easy with the SMT prompt) lowers the loss on held-out records.
func TestFullFineTuningLowersHeldOutLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a while")
	}
	dir := testshards.Build(t, "llm-adapters/dataset/ARC-Easy/train.json", 96, 24, 384)
	train, err := shards.OpenSplit(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer train.Close()
	eval, err := shards.OpenSplit(dir, "eval")
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()
	m, err := llama.Load(testutil.RepoRoot(t)+"/models/stories260K", cpu.New32(2))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(train, 8, 512, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewFull(m, allTensors(m), false)
	tn, err := NewTrainer(m, tr, Options{LR: 2e-3, Schedule: "linear", Steps: 24, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1, Accum: 1}, l)
	if err != nil {
		t.Fatal(err)
	}
	before, n := tn.EvalLoss(eval, 8)
	for s := 0; s < 24; s++ {
		tn.TrainStep()
	}
	after, _ := tn.EvalLoss(eval, 8)
	t.Logf("held-out loss over %d tokens: %.4f → %.4f", n, before, after)
	if !(after < before-0.5) {
		t.Fatalf("held-out loss %.4f → %.4f: full fine-tuning did not lower it", before, after)
	}
}
