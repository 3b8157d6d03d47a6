package llama

import (
	"math"
	"slices"
	"testing"
)

// HF's rule: every id of the sequence once, positive ÷ penalty, negative ×
// penalty, the others untouched.
func TestRepetitionPenaltyRule(t *testing.T) {
	p := NewRepetitionPenalty(2, 6)
	scores := []float32{4, -4, 4, -4, 0, 1}
	p.Apply(scores, []int32{0, 1, 1}, []int32{0, 4, 99})
	want := []float32{2, -8, 4, -4, 0, 1}
	if !slices.Equal(scores, want) {
		t.Errorf("got %v, want %v", scores, want)
	}
	none := NewRepetitionPenalty(1, 6)
	scores = []float32{4, -4, 4, -4, 0, 1}
	none.Apply(scores, []int32{0, 1, 2, 3})
	if !slices.Equal(scores, []float32{4, -4, 4, -4, 0, 1}) {
		t.Errorf("penalty 1 changed the scores: %v", scores)
	}
}

// fullGreedyPenalty is greedy decoding with HF's repetition penalty on the
// raw logits, written plainly: the whole sequence through Forward at every
// step, the penalty applied inline.
func fullGreedyPenalty(m *Model, prompt []int32, maxNew int, penalty float32) []int32 {
	V := m.Cfg.VocabSize
	seq := slices.Clone(prompt)
	var out []int32
	for range maxNew {
		a := m.NewActs(1, len(seq), false)
		m.Forward(a, seq)
		logits := make([]float32, V)
		m.BE.Download(logits, m.BE.Slice(a.Logits, (len(seq)-1)*V, V))
		done := map[int32]bool{}
		for _, id := range seq {
			if !done[id] {
				done[id] = true
				if logits[id] < 0 {
					logits[id] *= penalty
				} else {
					logits[id] /= penalty
				}
			}
		}
		next := argmax(logits)
		if m.Cfg.IsEOS(int(next)) {
			break
		}
		out = append(out, next)
		seq = append(seq, next)
	}
	return out
}

// The repetition penalty changes greedy output exactly as specified, and
// batching does not change it.
func TestGreedyRepetitionPenalty(t *testing.T) {
	m := loadStories(t)
	const n = 60
	o := SampleOptions{RepetitionPenalty: 1.3}
	batch, err := m.NewGenerator(len(storyPrompts), 128).Sample(storyPrompts, n, o)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := m.NewGenerator(len(storyPrompts), 128).Generate(storyPrompts, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i, p := range storyPrompts {
		want := fullGreedyPenalty(m, p, n, 1.3)
		if !slices.Equal(batch[i], want) {
			t.Errorf("prompt %d: penalised greedy %v, want %v", i, batch[i], want)
		}
		if !slices.Equal(batch[i], plain[i]) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the penalty changed no output")
	}
}

// Temperature 0 without a penalty is Generate's greedy decoding.
func TestSampleGreedyEqualsGenerate(t *testing.T) {
	m := loadStories(t)
	want, err := m.NewGenerator(len(storyPrompts), 128).Generate(storyPrompts, 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.NewGenerator(len(storyPrompts)+1, 128).Sample(storyPrompts, 50, SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("prompt %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// Sampling gives every prompt its own generator (Seed+i), so batching does
// not change what is drawn; the same seed draws the same tokens.
func TestSampleBatchedMatchesSingle(t *testing.T) {
	m := loadStories(t)
	o := SampleOptions{Temperature: 0.9, TopP: 0.9, Seed: 42, RepetitionPenalty: 1.1}
	batch, err := m.NewGenerator(len(storyPrompts), 128).Sample(storyPrompts, 40, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range storyPrompts {
		oi := o
		oi.Seed = o.Seed + uint64(i)
		one, err := m.NewGenerator(1, 128).Sample([][]int32{p}, 40, oi)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one[0], batch[i]) {
			t.Errorf("prompt %d: alone %v, batched %v", i, one[0], batch[i])
		}
	}
	// A single prompt through Generate with NewSampler draws the same.
	gen, err := m.NewGenerator(1, 128).Generate([][]int32{storyPrompts[1]}, 40, NewSampler(0.9, 0.9, 43))
	if err != nil {
		t.Fatal(err)
	}
	oi := o
	oi.RepetitionPenalty, oi.Seed = 1, 43
	one, err := m.NewGenerator(1, 128).Sample([][]int32{storyPrompts[1]}, 40, oi)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gen[0], one[0]) {
		t.Errorf("Generate with NewSampler %v, Sample %v", gen[0], one[0])
	}
}

// The sampler's frequencies follow the softmax; top-p never leaves the
// nucleus; temperature 0 is the argmax.
func TestSamplerDistribution(t *testing.T) {
	logits := []float32{2, 1, 0, -1, 0.5}
	var z float64
	for _, l := range logits {
		z += math.Exp(float64(l))
	}
	const n = 200000
	s := NewSampler(1, 0, 7)
	count := make([]int, len(logits))
	for range n {
		count[s(logits)]++
	}
	for i, l := range logits {
		p := math.Exp(float64(l)) / z
		f := float64(count[i]) / n
		if math.Abs(f-p) > 4*math.Sqrt(p*(1-p)/n)+1e-4 {
			t.Errorf("token %d: frequency %.4f, probability %.4f", i, f, p)
		}
	}
	// Probabilities ≈ .56 .21 .08 .03 .13: a nucleus of 0.7 holds tokens 0
	// and 1, and both are drawn.
	s = NewSampler(1, 0.7, 9)
	seen := map[int32]bool{}
	for range 10000 {
		tok := s(logits)
		if tok != 0 && tok != 1 {
			t.Fatalf("top-p 0.7 drew token %d outside the nucleus {0, 1}", tok)
		}
		seen[tok] = true
	}
	if len(seen) != 2 {
		t.Errorf("top-p 0.7 drew only %v", seen)
	}
	if tok := NewSampler(0, 0.9, 1)(logits); tok != 0 {
		t.Errorf("temperature 0 drew %d, want the argmax 0", tok)
	}
	// Equal seeds, equal draws.
	a, b := NewSampler(0.8, 0.95, 5), NewSampler(0.8, 0.95, 5)
	for range 100 {
		if a(logits) != b(logits) {
			t.Fatal("equal seeds drew different tokens")
		}
	}
}
