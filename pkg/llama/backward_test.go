package llama

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
)

func tinyConfig(tied bool) *Config {
	return &Config{
		HiddenSize: 8, IntermediateSize: 12, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		HeadDim: 4, RMSNormEps: 1e-5, RopeTheta: 1000, VocabSize: 11, TieWordEmbeddings: tied,
		MaxPositionEmbeddings: 64, EOSTokenIDs: []int{2},
	}
}

// randomBatch returns ids and next-token targets for B×T tokens, with the
// first prompt tokens of each sequence masked (target −1).
func randomBatch(r *rand.Rand, B, T, V int) (ids, targets []int32) {
	ids = make([]int32, B*T)
	targets = make([]int32, B*T)
	for b := 0; b < B; b++ {
		prompt := r.IntN(T)
		for t := 0; t < T; t++ {
			ids[b*T+t] = int32(r.IntN(V))
		}
		for t := 0; t < T; t++ {
			targets[b*T+t] = -1
			if t+1 < T && t+1 >= prompt {
				targets[b*T+t] = ids[b*T+t+1]
			}
		}
	}
	return ids, targets
}

func denseTargets(m *Model) *GradTargets {
	g := m.NewGradTargets()
	for i, t := range m.Layout.Tensors {
		if t.Kind == Head && m.Cfg.TieWordEmbeddings {
			continue
		}
		g.Dense[i] = m.BE.Alloc(backend.F64, t.Size)
	}
	return g
}

// TestModelGradientsFD checks every parameter gradient of a tiny model
// against central finite differences of the loss, in float64.
func TestModelGradientsFD(t *testing.T) {
	for _, tied := range []bool{false, true} {
		t.Run(fmt.Sprintf("tied=%v", tied), func(t *testing.T) {
			be := cpu.New64(2)
			m := New(tinyConfig(tied), be)
			m.InitRandom(7, 0.5)
			r := rand.New(rand.NewPCG(1, 1))
			B, T := 2, 5
			ids, targets := randomBatch(r, B, T, m.Cfg.VocabSize)
			g := denseTargets(m)
			a := m.NewTrainActs(B, T, g)
			m.Forward(a, ids)
			m.Loss(a, targets, true)
			m.Backward(a, ids, g, m.NewGradScratch(B*T))
			params := cpu.Data[float64](m.Params)
			fa := m.NewActs(B, T, false)
			// The loss comes back as float64 sums of float32 row losses on
			// the CPU; recompute it exactly for the differences.
			exact := func() float64 {
				m.Forward(fa, ids)
				lg := cpu.Data[float64](fa.Logits)
				V := m.Cfg.VocabSize
				var s float64
				n := 0
				for i, tg := range targets {
					if tg < 0 {
						continue
					}
					row := lg[i*V : (i+1)*V]
					mx := row[0]
					for _, v := range row {
						mx = math.Max(mx, v)
					}
					var z float64
					for _, v := range row {
						z += math.Exp(v - mx)
					}
					s += math.Log(z) + mx - row[tg]
					n++
				}
				return s / float64(n)
			}
			const h = 1e-6
			for i, tn := range m.Layout.Tensors {
				if g.Dense[i] == nil {
					continue
				}
				grad := cpu.Data[float64](g.Dense[i])
				var worst, scale float64
				for j := 0; j < tn.Size; j++ {
					p := &params[tn.Offset+j]
					old := *p
					*p = old + h
					fp := exact()
					*p = old - h
					fm := exact()
					*p = old
					num := (fp - fm) / (2 * h)
					worst = math.Max(worst, math.Abs(num-grad[j]))
					scale = math.Max(scale, math.Abs(num))
				}
				if rel := worst / scale; rel > 1e-6 || scale == 0 {
					t.Errorf("%s: max error %.3g relative to max |grad| %.3g = %.3g", tn.Name, worst, scale, rel)
				}
			}
		})
	}
}

// TestBlockGradsMatchDense checks that SMT block gradients (with only the
// needed input columns kept) equal the matching slices of the dense weight
// gradients, on several shapes and block sizes.
func TestBlockGradsMatchDense(t *testing.T) {
	shapes := []struct {
		D, F, H, KV, HD, S int
	}{
		{16, 32, 4, 2, 4, 4},
		{24, 48, 3, 1, 8, 8},
		{32, 64, 4, 4, 8, 16},
		{16, 24, 2, 2, 8, 8},
	}
	for _, sh := range shapes {
		t.Run(fmt.Sprintf("D%d_F%d_S%d", sh.D, sh.F, sh.S), func(t *testing.T) {
			cfg := &Config{HiddenSize: sh.D, IntermediateSize: sh.F, NumHiddenLayers: 2, NumAttentionHeads: sh.H,
				NumKeyValueHeads: sh.KV, HeadDim: sh.HD, RMSNormEps: 1e-5, RopeTheta: 10000, VocabSize: 19,
				EOSTokenIDs: []int{2}}
			be := cpu.New32(2)
			m := New(cfg, be)
			m.InitRandom(3, 0.3)
			r := rand.New(rand.NewPCG(uint64(sh.D), uint64(sh.S)))
			B, T := 2, 6
			ids, targets := randomBatch(r, B, T, cfg.VocabSize)

			dense := m.NewGradTargets()
			blocks := m.NewGradTargets()
			for i, tn := range m.Layout.Tensors {
				if !tn.Kind.IsLinear() {
					continue
				}
				dense.Dense[i] = be.Alloc(backend.F32, tn.Size)
				if i%3 == 2 {
					continue // some matrices get no blocks
				}
				tb := backend.BlockTable{Size: sh.S, Out: tn.Rows(), In: tn.Cols()}
				for br := 0; br < tn.Rows()/sh.S; br++ {
					for bc := 0; bc < tn.Cols()/sh.S; bc++ {
						if r.IntN(3) == 0 {
							tb.Rows = append(tb.Rows, int32(br))
							tb.Cols = append(tb.Cols, int32(bc))
						}
					}
				}
				if tb.Len() == 0 {
					continue
				}
				blocks.Blocks[i] = &BlockGrads{Table: tb, Grad: be.Alloc(backend.F32, tb.Len()*sh.S*sh.S)}
			}
			if err := blocks.Validate(m.Layout); err != nil {
				t.Fatal(err)
			}
			run := func(g *GradTargets) {
				a := m.NewTrainActs(B, T, g)
				m.Forward(a, ids)
				m.Loss(a, targets, true)
				m.Backward(a, ids, g, m.NewGradScratch(B*T))
			}
			run(dense)
			run(blocks)
			checked := 0
			for i, bg := range blocks.Blocks {
				if bg == nil {
					continue
				}
				tn := m.Layout.Tensors[i]
				full := cpu.Data[float32](dense.Dense[i])
				got := cpu.Data[float32](bg.Grad)
				S := sh.S
				for j := range bg.Table.Rows {
					r0, c0 := int(bg.Table.Rows[j])*S, int(bg.Table.Cols[j])*S
					for y := 0; y < S; y++ {
						for x := 0; x < S; x++ {
							want := full[(r0+y)*tn.Cols()+c0+x]
							g := got[(j*S+y)*S+x]
							if math.Abs(float64(g-want)) > 1e-5*(1+math.Abs(float64(want))) {
								t.Fatalf("%s block (%d,%d) [%d,%d]: %g, dense %g", tn.Name, r0/S, c0/S, y, x, g, want)
							}
							checked++
						}
					}
				}
			}
			if checked == 0 {
				t.Fatal("no block checked")
			}
		})
	}
}
