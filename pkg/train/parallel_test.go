package train

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/comm"
	"github.com/smt-go/smt/pkg/llama"
)

// N ranks with batch B each follow one rank with batch N·B step for step.
func TestDataParallelEqualsLargeBatch(t *testing.T) {
	src := randomSource(rand.New(rand.NewPCG(3, 3)), 48, 37)
	opt := Options{LR: 3e-3, Schedule: "linear", Steps: 6, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1, Accum: 1}
	tables := func(m *llama.Model) map[int]backend.BlockTable {
		out := map[int]backend.BlockTable{}
		for l := 0; l < 2; l++ {
			out[m.Layout.Index(llama.V, l)] = backend.BlockTable{Size: 8, Out: 16, In: 32, Rows: []int32{0, 1, 1}, Cols: []int32{3, 0, 2}}
			out[m.Layout.Index(llama.Q, l)] = backend.BlockTable{Size: 8, Out: 32, In: 32, Rows: []int32{2}, Cols: []int32{1}}
		}
		return out
	}
	run := func(rank, world, B int, comm Reducer, losses []float64) []float32 {
		m := tinyModel(t, 8)
		tr, err := NewBlocks(m, tables(m))
		if err != nil {
			t.Error(err)
			return nil
		}
		l, _ := NewLoader(src, B, 64, false, 4)
		l.Rank, l.World = rank, world
		tn, err := NewTrainer(m, tr, opt, l)
		if err != nil {
			t.Error(err)
			return nil
		}
		tn.Comm = comm
		for s := 0; s < opt.Steps; s++ {
			st := tn.TrainStep()
			if losses != nil {
				losses[s] = st.Loss
			}
		}
		return append([]float32(nil), cpu.Data[float32](tr.Master)...)
	}
	const N, B = 3, 4
	wantLoss := make([]float64, opt.Steps)
	want := run(0, 1, N*B, nil, wantLoss)
	ranks := comm.NewLocal(N)
	got := make([][]float32, N)
	gotLoss := make([][]float64, N)
	var wg sync.WaitGroup
	for r := 0; r < N; r++ {
		gotLoss[r] = make([]float64, opt.Steps)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[r] = run(r, N, B, ranks[r], gotLoss[r])
		}()
	}
	wg.Wait()
	for r := 0; r < N; r++ {
		for s := range wantLoss {
			if math.Abs(gotLoss[r][s]-wantLoss[s]) > 1e-5*wantLoss[s] {
				t.Errorf("rank %d step %d: loss %.7f, one rank with %d×%d: %.7f", r, s+1, gotLoss[r][s], N, B, wantLoss[s])
			}
		}
		for i := range want {
			if math.Abs(float64(got[r][i]-want[i])) > 1e-5 {
				t.Fatalf("rank %d: trained value %d = %g, one rank: %g", r, i, got[r][i], want[i])
			}
			if got[r][i] != got[0][i] {
				t.Fatalf("ranks 0 and %d disagree at value %d", r, i)
			}
		}
	}
}
