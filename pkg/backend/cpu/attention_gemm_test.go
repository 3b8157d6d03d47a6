package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
)

func to32(x []float64) []float32 {
	o := make([]float32, len(x))
	for i, v := range x {
		o[i] = float32(v)
	}
	return o
}

func maxErr(got []float32, want []float64) (worst, scale float64) {
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i])-want[i]))
		scale = math.Max(scale, math.Abs(want[i]))
	}
	return
}

// The float32 GEMM attention (forward and backward) against the float64
// direct reference, on fresh random inputs: grouped heads, several
// lengths, left padding, and keys read from a larger cache.
func TestAttentionGEMMMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	shapes := []backend.AttnShape{
		{B: 2, Tq: 17, Tk: 17, H: 4, KV: 2, HD: 8},
		{B: 3, Tq: 33, Tk: 33, H: 6, KV: 6, HD: 16},
		{B: 1, Tq: 64, Tk: 64, H: 8, KV: 1, HD: 12},
		{B: 2, Tq: 9, Tk: 9, H: 2, KV: 2, HD: 4, Start: []int32{0, 5}},
		{B: 2, Tq: 5, Tk: 12, H: 4, KV: 2, HD: 8, KVBatchStride: 20 * 2 * 8, Start: []int32{3, 0}},
		{B: 16, Tq: 40, Tk: 40, H: 4, KV: 2, HD: 8}, // several chunks? (not at this size; see chunk test)
	}
	for _, s := range shapes {
		t.Run(fmt.Sprintf("B%d_T%dx%d_H%d_KV%d", s.B, s.Tq, s.Tk, s.H, s.KV), func(t *testing.T) {
			s.Scale = float32(1 / math.Sqrt(float64(s.HD)))
			nq := s.B * s.Tq * s.H * s.HD
			nk := s.B * s.KVStride()
			q, k, v, dout := randVec(r, nq, 1), randVec(r, nk, 1), randVec(r, nk, 1), randVec(r, nq, 1)
			ref := New64(2)
			out, lse := make([]float64, nq), make([]float64, s.B*s.H*s.Tq)
			ref.attentionRef(Wrap(out), Wrap(lse), Wrap(q), Wrap(k), Wrap(v), s)
			dq, dk, dv := make([]float64, nq), make([]float64, nk), make([]float64, nk)
			ref.attentionBackwardRef(Wrap(dq), Wrap(dk), Wrap(dv), Wrap(dout), Wrap(q), Wrap(k), Wrap(v), Wrap(out), Wrap(lse), s)

			be := New32(2)
			out32, lse32 := make([]float32, nq), make([]float32, len(lse))
			be.attentionGEMM(Wrap(out32), Wrap(lse32), Wrap(to32(q)), Wrap(to32(k)), Wrap(to32(v)), s)
			dq32, dk32, dv32 := to32(randVec(r, nq, 1)), to32(randVec(r, nk, 1)), to32(randVec(r, nk, 1))
			be.attentionBackwardGEMM(Wrap(dq32), Wrap(dk32), Wrap(dv32), Wrap(to32(dout)), Wrap(to32(q)), Wrap(to32(k)), Wrap(to32(v)), Wrap(out32), Wrap(lse32), s)
			for _, c := range []struct {
				name string
				got  []float32
				want []float64
			}{{"out", out32, out}, {"lse", lse32, lse}, {"dq", dq32, dq}, {"dk", dk32, dk}, {"dv", dv32, dv}} {
				if c.name == "dk" || c.name == "dv" {
					// Only the rows of the Tk keys are defined.
					var g []float32
					var w []float64
					for b := 0; b < s.B; b++ {
						n := s.Tk * s.KV * s.HD
						g = append(g, c.got[b*s.KVStride():b*s.KVStride()+n]...)
						w = append(w, c.want[b*s.KVStride():b*s.KVStride()+n]...)
					}
					c.got, c.want = g, w
				}
				worst, scale := maxErr(c.got, c.want)
				if worst > 2e-5*math.Max(scale, 1) {
					t.Errorf("%s: max error %.3g (max |ref| %.3g)", c.name, worst, scale)
				}
			}
		})
	}
}

// Chunking: a shape whose score matrices exceed one chunk gives the same
// result as the reference.
func TestAttentionGEMMChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	s := backend.AttnShape{B: 3, Tq: 1100, Tk: 1100, H: 4, KV: 2, HD: 4, Scale: 0.5}
	if p := newAttnPlan(s); p.unitsPerChunk >= s.B*s.KV {
		t.Fatalf("shape fits one chunk (%d units per chunk)", p.unitsPerChunk)
	}
	nq, nk := s.B*s.Tq*s.H*s.HD, s.B*s.Tk*s.KV*s.HD
	q, k, v := randVec(r, nq, 1), randVec(r, nk, 1), randVec(r, nk, 1)
	out := make([]float64, nq)
	New64(2).attentionRef(Wrap(out), nil, Wrap(q), Wrap(k), Wrap(v), s)
	out32 := make([]float32, nq)
	New32(2).attentionGEMM(Wrap(out32), nil, Wrap(to32(q)), Wrap(to32(k)), Wrap(to32(v)), s)
	if worst, _ := maxErr(out32, out); worst > 1e-5 {
		t.Fatalf("max error %g", worst)
	}
}
