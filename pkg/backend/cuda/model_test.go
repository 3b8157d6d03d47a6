package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/llama"
)

// The model tests run the real LLaMA code (package llama) on the shipped
// stories260K model on the CUDA backend (a GPU, or the stand-ins) and on
// the CPU, and compare: greedy generation with the KV cache, the logits
// and loss of a training batch, and SMT block gradients of one backward.

// storiesGreedy is the first ten greedy tokens after BOS, as llama2.c's
// run.c produces them (see the llama package's test).
var storiesGreedy = []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298}

func TestModelStoriesGreedy(t *testing.T) {
	e := openEngine(t)
	m, err := llama.Load(testutil.RepoRoot(t)+"/models/stories260K", e.be)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.NewGenerator(1, 64).Generate([][]int32{{1}}, len(storiesGreedy), nil)
	if err != nil {
		t.Fatal(err)
	}
	same := len(out[0]) == len(storiesGreedy)
	for i := 0; same && i < len(storiesGreedy); i++ {
		same = out[0][i] == storiesGreedy[i]
	}
	if !same {
		t.Errorf("greedy tokens on %s: %v, want %v", e.kind, out[0], storiesGreedy)
	}
	// Batched prompts of different lengths (left padding) on the device.
	prompts := [][]int32{{1}, {1, 403, 407, 261}, {1, 300, 301}}
	batch, err := m.NewGenerator(len(prompts), 64).Generate(prompts, 12, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		one, err := m.NewGenerator(1, 64).Generate([][]int32{p}, 12, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0]) != len(batch[i]) {
			t.Errorf("prompt %d: alone %v, batched %v", i, one[0], batch[i])
			continue
		}
		for j := range one[0] {
			if one[0][j] != batch[i][j] {
				t.Errorf("prompt %d: alone %v, batched %v", i, one[0], batch[i])
				break
			}
		}
	}
}

func TestModelStoriesTrainStep(t *testing.T) {
	e := openEngine(t)
	dir := testutil.RepoRoot(t) + "/models/stories260K"
	mg, err := llama.Load(dir, e.be)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := llama.Load(dir, cpu.New32(2))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 9))
	B, T := 2, 24
	V := mc.Cfg.VocabSize
	ids, targets := make([]int32, B*T), make([]int32, B*T)
	for i := range ids {
		ids[i] = int32(r.IntN(V))
		targets[i] = int32(r.IntN(V))
		if i%T < 5 {
			targets[i] = -100 // a masked prompt
		}
	}
	// SMT targets: a few 16×16 blocks of every Q, K and V, the final norm dense.
	const S = 16
	grads := func(m *llama.Model) *llama.GradTargets {
		g := m.NewGradTargets()
		rr := rand.New(rand.NewPCG(1, 1))
		for i, tn := range m.Layout.Tensors {
			switch tn.Kind {
			case llama.Q, llama.K, llama.V:
				tb := backend.BlockTable{Size: S, Out: tn.Rows(), In: tn.Cols()}
				for k := 0; k < 3; k++ {
					tb.Rows = append(tb.Rows, int32(rr.IntN(tn.Rows()/S)))
					tb.Cols = append(tb.Cols, int32(rr.IntN(tn.Cols()/S)))
				}
				g.Blocks[i] = &llama.BlockGrads{Table: tb, Grad: m.BE.Alloc(backend.F32, tb.Len()*S*S)}
			case llama.FinalNorm:
				g.Dense[i] = m.BE.Alloc(backend.F32, tn.Size)
			}
		}
		if err := g.Validate(m.Layout); err != nil {
			t.Fatal(err)
		}
		return g
	}
	gg, gc := grads(mg), grads(mc)
	ag, ac := mg.NewTrainActs(B, T, gg), mc.NewTrainActs(B, T, gc)
	mg.Forward(ag, ids)
	mc.Forward(ac, ids)
	lg, lc := make([]float32, B*T*V), make([]float32, B*T*V)
	mg.BE.Download(lg, ag.Logits)
	mc.BE.Download(lc, ac.Logits)
	if err := relErr(lg, lc); err > 3e-2 {
		t.Errorf("logits: relative error %.3g > 3e-2", err)
	} else {
		t.Logf("logits: relative error %.3g", err)
	}
	lossG, _ := mg.Loss(ag, targets, true)
	lossC, _ := mc.Loss(ac, targets, true)
	if d := math.Abs(lossG-lossC) / lossC; d > 1e-2 {
		t.Errorf("loss %.6f on %s, %.6f on the CPU", lossG, e.kind, lossC)
	} else {
		t.Logf("loss %.6f on %s, %.6f on the CPU", lossG, e.kind, lossC)
	}
	mg.Backward(ag, ids, gg, mg.NewGradScratch(B*T))
	mc.Backward(ac, ids, gc, mc.NewGradScratch(B*T))
	worst := 0.0
	for i := range gg.Blocks {
		var bg, bc backend.Buf
		if gg.Blocks[i] != nil {
			bg, bc = gg.Blocks[i].Grad, gc.Blocks[i].Grad
		} else if gg.Dense[i] != nil {
			bg, bc = gg.Dense[i], gc.Dense[i]
		} else {
			continue
		}
		g, c := make([]float32, bg.Len()), make([]float32, bc.Len())
		mg.BE.Download(g, bg)
		mc.BE.Download(c, bc)
		err := relErr(g, c)
		worst = max(worst, err)
		if err > 5e-2 {
			t.Errorf("%s gradient: relative error %.3g > 5e-2", mc.Layout.Tensors[i].Name, err)
		}
	}
	t.Logf("worst block/norm gradient relative error %.3g", worst)
}
