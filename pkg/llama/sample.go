package llama

import (
	"fmt"
	"math"
	"sort"
)

// This file holds host-side decoding: Hugging Face's repetition penalty,
// llama2.c's temperature / top-p sampler with its xorshift generator, and a
// decoding loop (Generator.Sample) that applies them with the key/value
// cache.

// Rand is the xorshift64* generator of llama2.c's run.c: a 64-bit state,
// shifted by 12, 25 and 27 and multiplied by 0x2545F4914F6CDD1D. Seeded
// with the same value, it draws the same numbers as run.c, so that
// NewSampler reproduces run.c's sampled stories.
type Rand struct{ state uint64 }

// NewRand returns a generator seeded with seed. The xorshift state must not
// be 0 (it would stay 0), so seed 0 is replaced by a fixed non-zero value.
func NewRand(seed uint64) *Rand {
	if seed == 0 {
		seed = 0x9e3779b97f4a7c15
	}
	return &Rand{state: seed}
}

// Uint32 returns the next 32 random bits.
func (r *Rand) Uint32() uint32 {
	r.state ^= r.state >> 12
	r.state ^= r.state << 25
	r.state ^= r.state >> 27
	return uint32((r.state * 0x2545F4914F6CDD1D) >> 32)
}

// Float32 returns a uniform value in [0, 1) with 24 random bits.
func (r *Rand) Float32() float32 { return float32(r.Uint32()>>8) / 16777216 }

// RepetitionPenalty is Hugging Face's RepetitionPenaltyLogitsProcessor:
// for every token id present in the sequence so far (the prompt included),
// a positive score is divided by the penalty and a negative one multiplied
// by it. Each id is penalised once however often it occurs. A
// RepetitionPenalty keeps scratch space and is not safe for concurrent use.
type RepetitionPenalty struct {
	// Penalty is HF's repetition_penalty (1: no change; the SMT reference
	// evaluation uses 1.1).
	Penalty float32

	mark []uint32 // id → generation stamp of the last Set that saw it
	gen  uint32
	ids  []int32 // the distinct ids of the last Set
}

// NewRepetitionPenalty returns a penalty for a vocabulary of vocab ids.
func NewRepetitionPenalty(penalty float32, vocab int) *RepetitionPenalty {
	return &RepetitionPenalty{Penalty: penalty, mark: make([]uint32, vocab)}
}

// Active reports whether the penalty changes anything (it is not 1, 0 or
// negative, and p is not nil).
func (p *RepetitionPenalty) Active() bool { return p != nil && p.Penalty > 0 && p.Penalty != 1 }

// Set collects the distinct ids of seqs (read as one sequence); ids out of
// the vocabulary are ignored. It returns them in order of first occurrence.
func (p *RepetitionPenalty) Set(seqs ...[]int32) []int32 {
	p.gen++
	if p.gen == 0 { // wrapped: clear the stamps
		clear(p.mark)
		p.gen = 1
	}
	p.ids = p.ids[:0]
	for _, s := range seqs {
		for _, id := range s {
			if id < 0 || int(id) >= len(p.mark) || p.mark[id] == p.gen {
				continue
			}
			p.mark[id] = p.gen
			p.ids = append(p.ids, id)
		}
	}
	return p.ids
}

// Apply penalises scores [V] in place for the ids of seqs.
func (p *RepetitionPenalty) Apply(scores []float32, seqs ...[]int32) {
	if !p.Active() {
		return
	}
	for _, id := range p.Set(seqs...) {
		scores[id] = penalize(scores[id], p.Penalty)
	}
}

// penalize is HF's rule for one score: negative × penalty, else ÷ penalty.
func penalize[T float32 | float64](s, penalty T) T {
	if s < 0 {
		return s * penalty
	}
	return s / penalty
}

// argmax returns the index of the largest value (the first one on ties).
func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// NewSampler returns llama2.c run.c's sampler seeded with seed: with
// temperature 0 the argmax; otherwise the logits are divided by the
// temperature and soft-maxed in float32, one coin is drawn from Rand, and
// the token is taken from the full distribution (topP ≤ 0 or ≥ 1) or from
// its nucleus: the most probable tokens (among those with probability at
// least (1−topP)/(V−1)) until their cumulative probability exceeds topP.
// The sampler does not modify the logits it is given.
func NewSampler(temperature, topP float32, seed uint64) Sampler {
	if temperature == 0 {
		return argmax
	}
	r := NewRand(seed)
	var probs []float32
	var cand []probIndex
	return func(logits []float32) int32 {
		probs = append(probs[:0], logits...)
		for i := range probs {
			probs[i] /= temperature
		}
		softmax32(probs)
		coin := r.Float32()
		if topP <= 0 || topP >= 1 {
			return sampleMult(probs, coin)
		}
		var next int32
		next, cand = sampleTopP(probs, topP, coin, cand)
		return next
	}
}

// softmax32 is run.c's softmax in float32: subtract the maximum,
// exponentiate, divide by the sum accumulated in order.
func softmax32(x []float32) {
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		sum += e
	}
	for i := range x {
		x[i] /= sum
	}
}

// sampleMult returns the first index whose cumulative probability exceeds
// coin (the last index if rounding leaves coin above the total).
func sampleMult(probs []float32, coin float32) int32 {
	var cdf float32
	for i, p := range probs {
		cdf += p
		if coin < cdf {
			return int32(i)
		}
	}
	return int32(len(probs) - 1)
}

type probIndex struct {
	p  float32
	id int32
}

// sampleTopP draws from the nucleus of probs with coin, as run.c's
// sample_topp does. Candidates are sorted by probability, descending; equal
// probabilities keep id order. cand is reusable scratch.
func sampleTopP(probs []float32, topP, coin float32, cand []probIndex) (int32, []probIndex) {
	cutoff := (1 - topP) / float32(len(probs)-1)
	cand = cand[:0]
	for i, p := range probs {
		if p >= cutoff {
			cand = append(cand, probIndex{p, int32(i)})
		}
	}
	sort.SliceStable(cand, func(i, j int) bool { return cand[i].p > cand[j].p })
	var cum float32
	last := len(cand) - 1
	for i, c := range cand {
		cum += c.p
		if cum > topP {
			last = i
			break
		}
	}
	r := coin * cum
	var cdf float32
	for _, c := range cand[:last+1] {
		cdf += c.p
		if r < cdf {
			return c.id, cand
		}
	}
	return cand[last].id, cand
}

// SampleOptions configure Generator.Sample.
type SampleOptions struct {
	// RepetitionPenalty is HF's repetition_penalty, applied to the raw
	// logits before sampling or the argmax (as HF's greedy search does);
	// 0 or 1 means none.
	RepetitionPenalty float32
	// Temperature 0 means greedy decoding; otherwise run.c's sampler (see
	// NewSampler).
	Temperature float32
	// TopP is the nucleus size; 0 or 1 samples from the whole distribution.
	TopP float32
	// Seed seeds prompt i's generator with Seed+i, so that a prompt draws
	// the same tokens whatever batch it is in, and a single prompt draws
	// what run.c draws with -s Seed.
	Seed uint64
}

// Sample continues each prompt by up to maxNew tokens like Generate, but
// picks tokens on the host: HF's repetition penalty over the prompt and the
// tokens so far, then the argmax (Temperature 0) or run.c's sampler with a
// generator per prompt. Results do not depend on how prompts are batched.
func (g *Generator) Sample(prompts [][]int32, maxNew int, o SampleOptions) ([][]int32, error) {
	c, be := g.m.Cfg, g.m.BE
	V := c.VocabSize
	L, err := g.checkPrompts(prompts, len(prompts), maxNew)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	ids, start := leftPad(prompts, g.B, L)
	out := make([][]int32, len(prompts))
	if maxNew == 0 {
		return out, nil
	}
	pick := make([]Sampler, len(prompts))
	for i := range pick {
		pick[i] = NewSampler(o.Temperature, o.TopP, o.Seed+uint64(i))
	}
	pen := NewRepetitionPenalty(o.RepetitionPenalty, V)
	done := make([]bool, len(prompts))
	next := make([]int32, g.B)
	host := make([]float32, g.B*V)
	g.step(ids, L, 0, start)
	for t := 0; t < maxNew; t++ {
		be.Download(host, g.logits)
		alive := false
		for b, p := range prompts {
			if done[b] {
				continue
			}
			row := host[b*V : (b+1)*V]
			pen.Apply(row, p, out[b])
			next[b] = pick[b](row)
			if c.IsEOS(int(next[b])) {
				done[b] = true
				continue
			}
			out[b] = append(out[b], next[b])
			alive = true
		}
		if !alive || t == maxNew-1 {
			break
		}
		g.step(next, 1, L+t, start)
	}
	return out, nil
}

// checkPrompts validates a batch of prompts for a generator of at least
// rows sequences and returns the longest prompt's length.
func (g *Generator) checkPrompts(prompts [][]int32, rows, maxNew int) (int, error) {
	if len(prompts) == 0 || rows > g.B {
		return 0, fmt.Errorf("%d prompts need %d sequences, the generator has %d", len(prompts), rows, g.B)
	}
	if maxNew < 0 {
		return 0, fmt.Errorf("negative number of new tokens %d", maxNew)
	}
	L := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return 0, fmt.Errorf("prompt %d is empty", i)
		}
		for _, id := range p {
			if id < 0 || int(id) >= g.m.Cfg.VocabSize {
				return 0, fmt.Errorf("prompt %d: token id %d outside the vocabulary of %d", i, id, g.m.Cfg.VocabSize)
			}
		}
		L = max(L, len(p))
	}
	if L+maxNew > g.Tmax {
		return 0, fmt.Errorf("prompt of %d tokens + %d new exceeds the cache of %d positions", L, maxNew, g.Tmax)
	}
	return L, nil
}

// leftPad lays prompts out as B rows of L tokens, right-aligned (rows past
// the prompts repeat the last one), and returns the ids [B·L] and the first
// real position of each row.
func leftPad(prompts [][]int32, B, L int) (ids, start []int32) {
	ids = make([]int32, B*L)
	start = make([]int32, B)
	for b := 0; b < B; b++ {
		p := prompts[min(b, len(prompts)-1)]
		start[b] = int32(L - len(p))
		copy(ids[b*L+int(start[b]):], p)
	}
	return ids, start
}
