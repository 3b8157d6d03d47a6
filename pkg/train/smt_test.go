package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/shards"
)

func tinyModel(t *testing.T, seed uint64) *llama.Model {
	t.Helper()
	cfg := &llama.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		HeadDim: 8, RMSNormEps: 1e-5, RopeTheta: 10000, VocabSize: 37, MaxPositionEmbeddings: 64, EOSTokenIDs: []int{2}}
	m := llama.New(cfg, cpu.New32(2))
	m.InitRandom(seed, 0.2)
	return m
}

func randomSource(r *rand.Rand, n, V int) memSource {
	var src memSource
	for i := 0; i < n; i++ {
		L := 4 + r.IntN(12)
		ex := shards.Example{Record: int64(i)}
		p := r.IntN(L - 1)
		for t := 0; t < L; t++ {
			ex.IDs = append(ex.IDs, int32(r.IntN(V)))
			m := uint8(0)
			if t > p {
				m = 1
			}
			ex.Mask = append(ex.Mask, m)
		}
		src = append(src, ex)
	}
	return src
}

// With every block of Q, K and V selected, SMT training follows full
// fine-tuning of Q, K and V step for step.
func TestAllBlocksEqualsFullFineTuning(t *testing.T) {
	src := randomSource(rand.New(rand.NewPCG(1, 1)), 40, 37)
	opt := Options{LR: 3e-3, Schedule: "linear", Steps: 8, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1, Accum: 2}
	run := func(smt bool) ([]float64, []float32) {
		m := tinyModel(t, 5)
		var tr *Trainable
		if smt {
			tables := map[int]backend.BlockTable{}
			S := 8
			for l := 0; l < 2; l++ {
				for _, k := range []llama.Kind{llama.Q, llama.K, llama.V} {
					out, in := m.LinearShape(k)
					tb := backend.BlockTable{Size: S, Out: out, In: in}
					// Blocks in a scrambled order, as a score ranking gives.
					for j := (out/S)*(in/S) - 1; j >= 0; j-- {
						tb.Rows = append(tb.Rows, int32(j/(in/S)))
						tb.Cols = append(tb.Cols, int32(j%(in/S)))
					}
					tables[m.Layout.Index(k, l)] = tb
				}
			}
			var err error
			if tr, err = NewBlocks(m, tables); err != nil {
				t.Fatal(err)
			}
		} else {
			var idx []int
			for l := 0; l < 2; l++ {
				for _, k := range []llama.Kind{llama.Q, llama.K, llama.V} {
					idx = append(idx, m.Layout.Index(k, l))
				}
			}
			tr = NewFull(m, idx, false)
		}
		l, err := NewLoader(src, 4, 64, false, 9)
		if err != nil {
			t.Fatal(err)
		}
		tn, err := NewTrainer(m, tr, opt, l)
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		for s := 0; s < opt.Steps; s++ {
			losses = append(losses, tn.TrainStep().Loss)
		}
		return losses, append([]float32(nil), cpu.Data[float32](m.Params)...)
	}
	fullLoss, fullW := run(false)
	smtLoss, smtW := run(true)
	for s := range fullLoss {
		if math.Abs(fullLoss[s]-smtLoss[s]) > 1e-5*fullLoss[s] {
			t.Errorf("step %d: full fine-tuning loss %.7f, SMT %.7f", s+1, fullLoss[s], smtLoss[s])
		}
	}
	if fullLoss[len(fullLoss)-1] >= fullLoss[0] {
		t.Errorf("training did not lower the loss: %v", fullLoss)
	}
	var worst float64
	for i := range fullW {
		worst = math.Max(worst, math.Abs(float64(fullW[i]-smtW[i])))
	}
	if worst > 1e-5 {
		t.Errorf("weights differ by up to %g after %d steps", worst, opt.Steps)
	}
}

// A subset of blocks changes only those blocks.
func TestBlocksTouchOnlySelected(t *testing.T) {
	src := randomSource(rand.New(rand.NewPCG(2, 2)), 16, 37)
	m := tinyModel(t, 6)
	before := append([]float32(nil), cpu.Data[float32](m.Params)...)
	vi := m.Layout.Index(llama.V, 1)
	tb := backend.BlockTable{Size: 8, Out: 16, In: 32, Rows: []int32{1, 0}, Cols: []int32{2, 3}}
	tr, err := NewBlocks(m, map[int]backend.BlockTable{vi: tb})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := NewLoader(src, 4, 64, false, 1)
	tn, _ := NewTrainer(m, tr, Options{LR: 1e-2, Schedule: "constant", Steps: 3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Accum: 1}, l)
	for s := 0; s < 3; s++ {
		tn.TrainStep()
	}
	after := cpu.Data[float32](m.Params)
	vt := m.Layout.Tensors[vi]
	changed := 0
	for i := range before {
		inBlock := false
		if i >= vt.Offset && i < vt.Offset+vt.Size {
			r, c := (i-vt.Offset)/32, (i-vt.Offset)%32
			inBlock = (r/8 == 1 && c/8 == 2) || (r/8 == 0 && c/8 == 3)
		}
		if before[i] != after[i] {
			if !inBlock {
				t.Fatalf("parameter %d outside the selected blocks changed", i)
			}
			changed++
		}
	}
	if changed < 100 {
		t.Fatalf("only %d of 128 selected values changed", changed)
	}
}
