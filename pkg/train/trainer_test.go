package train

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/safetensors"
	"github.com/smt-go/smt/pkg/shards"
)

// memSource is an in-memory Source.
type memSource []shards.Example

func (s memSource) Len() int                 { return len(s) }
func (s memSource) Get(i int) shards.Example { return s[i] }

func allTensors(m *llama.Model) []int {
	idx := make([]int, len(m.Layout.Tensors))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// TestAdamWStepsMatchPyTorch runs 5 full fine-tuning steps (AdamW with
// weight decay, global-norm clipping) on the batch of
// pkg/llama/testdata/tiny-gqa/train.safetensors and compares the losses,
// gradient norms and final weights with torch.optim.AdamW.
func TestAdamWStepsMatchPyTorch(t *testing.T) {
	dir := testutil.RepoRoot(t) + "/pkg/llama/testdata/tiny-gqa"
	fx, err := safetensors.Open(dir + "/train.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	meta := fx.Metadata()
	var lr, wd, eps, clip float64
	var betas [2]float64
	var steps int
	for k, v := range map[string]any{"lr": &lr, "weight_decay": &wd, "eps": &eps, "clip": &clip, "betas": &betas, "steps": &steps} {
		if err := json.Unmarshal([]byte(meta[k]), v); err != nil {
			t.Fatalf("metadata %s: %v", k, err)
		}
	}
	ids, _ := fx.Int64s("ids")
	labels, _ := fx.Int64s("labels")
	info, _ := fx.Info("ids")
	B, T := info.Shape[0], info.Shape[1]
	var src memSource
	for b := 0; b < B; b++ {
		ex := shards.Example{Record: int64(b)}
		for j := 0; j < T; j++ {
			ex.IDs = append(ex.IDs, int32(ids[b*T+j]))
			m := uint8(0)
			if labels[b*T+j] != -100 {
				m = 1
			}
			ex.Mask = append(ex.Mask, m)
		}
		src = append(src, ex)
	}
	m, err := llama.Load(dir, cpu.New32(0))
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(src, B, 64, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{LR: lr, Schedule: "constant", Steps: steps, Beta1: betas[0], Beta2: betas[1], Eps: eps,
		WeightDecay: wd, Clip: clip, Accum: 1}
	tr, err := NewTrainer(m, NewFull(m, allTensors(m), false), opt, l)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss, _ := fx.Float32("adamw.losses")
	wantNorm, _ := fx.Float32("adamw.grad_norms")
	for s := 0; s < steps; s++ {
		st := tr.TrainStep()
		if math.Abs(st.Loss-float64(wantLoss[s])) > 1e-4*float64(wantLoss[s]) {
			t.Errorf("step %d: loss %.7f, PyTorch %.7f", s+1, st.Loss, wantLoss[s])
		}
		if math.Abs(st.GradNorm-float64(wantNorm[s])) > 1e-4*float64(wantNorm[s]) {
			t.Errorf("step %d: gradient norm %.7f, PyTorch %.7f", s+1, st.GradNorm, wantNorm[s])
		}
	}
	// Final weights.
	for _, tn := range m.Layout.Tensors {
		want, err := fx.Float32("adamw.final." + tn.Name)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, tn.Size)
		m.BE.Download(got, m.BE.Slice(m.Params, tn.Offset, tn.Size))
		var worst, scale float64
		for i := range got {
			worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
			scale = math.Max(scale, math.Abs(float64(want[i])))
		}
		if worst > 1e-4*scale {
			t.Errorf("%s after %d steps: max difference %.3g (max |w| %.3g)", tn.Name, steps, worst, scale)
		}
	}
}
