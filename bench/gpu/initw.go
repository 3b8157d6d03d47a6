package main

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/smt-go/smt/pkg/llama"
)

// poolSize is the number of random values generated on the host and
// uploaded once (64 MiB in bf16); every weight matrix is then filled on the
// device with copies of windows of this pool starting at random offsets.
// A 7B model is initialised in well under a second this way, against
// minutes (and a 27 GB float32 host buffer) for llama.Model.InitRandom.
// Timing does not depend on the values, only that they are random-looking,
// finite and never zero.
const poolSize = 1 << 25

// initWeights fills the model's matrices with values uniform in
// ±std·√3 (standard deviation std), never zero, and its norm weights with
// ones, deterministically in seed.
func initWeights(m *llama.Model, seed uint64, std float64) {
	be := m.BE
	n := min(poolSize, m.Layout.Total)
	host := make([]float32, n)
	fillUniform(host, seed, float32(std*math.Sqrt(3)))
	pool := be.Alloc(be.DType(), n)
	be.Upload(pool, host)
	host = nil
	rng := rand.New(rand.NewPCG(seed, 0x1417))
	var ones []float32
	for _, t := range m.Layout.Tensors {
		dst := be.Slice(m.Params, t.Offset, t.Size)
		switch t.Kind {
		case llama.AttnNorm, llama.MLPNorm, llama.FinalNorm:
			if len(ones) < t.Size {
				ones = make([]float32, t.Size)
				for i := range ones {
					ones[i] = 1
				}
			}
			be.Upload(dst, ones[:t.Size])
			continue
		}
		start := rng.IntN(n)
		for off := 0; off < t.Size; {
			k := min(t.Size-off, n-start)
			be.Copy2D(be.Slice(dst, off, k), k, be.Slice(pool, start, k), k, 1, k)
			off += k
			start = 0
		}
	}
	be.Free(pool) // waits for the copies
}

// fillUniform fills v with values (2k+1−2²⁴)/2²⁴·scale for 24-bit random k
// (odd numerators, so never zero), in parallel over fixed chunks so that the
// result does not depend on the number of cores.
func fillUniform(v []float32, seed uint64, scale float32) {
	const chunk = 1 << 20
	chunks := (len(v) + chunk - 1) / chunk
	var wg sync.WaitGroup
	next := make(chan int, chunks)
	for c := 0; c < chunks; c++ {
		next <- c
	}
	close(next)
	for w := 0; w < min(runtime.NumCPU(), chunks); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				s := seed ^ (uint64(c)+1)*0x9e3779b97f4a7c15
				part := v[c*chunk : min((c+1)*chunk, len(v))]
				for i := range part {
					s += 0x9e3779b97f4a7c15
					z := s
					z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
					z = (z ^ (z >> 27)) * 0x94d049bb133111eb
					z ^= z >> 31
					k := int32(z >> 40) // 24 bits
					part[i] = float32(2*k+1-(1<<24)) * (1.0 / (1 << 24)) * scale
				}
			}
		}()
	}
	wg.Wait()
}
