package main

import (
	"fmt"
	"math/rand/v2"
)

// shape is one product M×K times K×N with the operands stored as in the
// training step (transA/transB as in cblas).
type shape struct {
	what           string
	m, k, n        int
	transA, transB bool
}

// benchShapes are the stories15M-shaped training products at 4096 tokens
// (dim 288, hidden 768, vocab 32000) and a small attention-sized one.
var benchShapes = []shape{
	{"fwd X·Wᵀ (dim→hidden)", 4096, 288, 768, false, true},
	{"bwd dY·W (hidden→dim)", 4096, 768, 288, false, false},
	{"wgrad dYᵀ·X", 288, 4096, 768, true, false},
	{"head fwd X·Wᵀ", 4096, 288, 32000, false, true},
	{"head fwd X·Wᵀ, dim 512", 4096, 512, 32000, false, true},
	{"head bwd dY·W", 4096, 32000, 288, false, false},
	{"head wgrad dYᵀ·X", 32000, 4096, 288, true, false},
	{"small", 256, 64, 256, false, true},
}

func (s shape) name() string { return fmt.Sprintf("%d×%d×%d", s.m, s.k, s.n) }

func (s shape) flops() float64 { return 2 * float64(s.m) * float64(s.n) * float64(s.k) }

func (s shape) lda() int {
	if s.transA {
		return s.m
	}
	return s.k
}

func (s shape) ldb() int {
	if s.transB {
		return s.k
	}
	return s.n
}

func (s shape) torchSpec() string {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return fmt.Sprintf("%d,%d,%d,%d,%d", s.m, s.k, s.n, b(s.transA), b(s.transB))
}

// ops returns "NN", "NT", "TN" or "TT".
func (s shape) ops() string {
	t := func(v bool) string {
		if v {
			return "T"
		}
		return "N"
	}
	return t(s.transA) + t(s.transB)
}

// operands are the stored matrices of one shape, made once and reused.
type operands struct {
	s       shape
	a, b, c []float32
}

// newOperands returns random stored A and B and a C for the shape.
func newOperands(s shape) *operands {
	rng := rand.New(rand.NewPCG(uint64(s.m), uint64(s.n)))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		return x
	}
	return &operands{s, fill(s.m * s.k), fill(s.k * s.n), make([]float32, s.m*s.n)}
}
