package llama

import (
	"math"
	"slices"
	"testing"

	"github.com/smt-go/smt/pkg/backend/cpu"
)

// storyPrompts are prompts of different lengths for the stories260K model.
var storyPrompts = [][]int32{{1}, {1, 403, 407, 261}, {1, 300, 301}, {1, 500, 20, 30, 40, 50, 60, 70}}

// Beam search with one beam is greedy decoding.
func TestBeamOneEqualsGreedy(t *testing.T) {
	m := loadStories(t)
	for i, p := range storyPrompts {
		want, err := m.NewGenerator(1, 128).Generate([][]int32{p}, 60, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.NewGenerator(1, 128).BeamSearch([][]int32{p}, 60, BeamOptions{NumBeams: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0].Tokens, want[0]) {
			t.Errorf("prompt %d: beam(1) %v, greedy %v", i, got[0].Tokens, want[0])
		}
	}
}

// Searching several prompts together (left padding, shared cache rows
// reordered per prompt) gives each prompt's result alone.
func TestBeamBatchedMatchesSingle(t *testing.T) {
	m := loadStories(t)
	o := BeamOptions{NumBeams: 4, RepetitionPenalty: 1.1}
	batch, err := m.NewGenerator(len(storyPrompts)*4+3, 128).BeamSearch(storyPrompts, 48, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range storyPrompts {
		one, err := m.NewGenerator(4, 128).BeamSearch([][]int32{p}, 48, o)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one[0].Tokens, batch[i].Tokens) || math.Abs(one[0].Score-batch[i].Score) > 1e-5 {
			t.Errorf("prompt %d: alone %v (%.6f), batched %v (%.6f)", i, one[0].Tokens, one[0].Score, batch[i].Tokens, batch[i].Score)
		}
	}
}

// tinyModel is a random model with an 11-token vocabulary (EOS = 2) in
// float64, for comparisons with searches written out in full.
func tinyModel(t *testing.T, seed uint64) *Model {
	t.Helper()
	m := New(tinyConfig(false), cpu.New64(2))
	m.InitRandom(seed, 0.6)
	return m
}

// nextLogProbs runs the model on the whole sequence (no cache) and returns
// the processed next-token scores as HF's beam search sees them:
// log_softmax of the last logits, then the repetition penalty over seq.
func nextLogProbs(m *Model, seq []int32, penalty float64) []float64 {
	a := m.NewActs(1, len(seq), false)
	m.Forward(a, seq)
	V := m.Cfg.VocabSize
	host := make([]float32, V)
	m.BE.Download(host, m.BE.Slice(a.Logits, (len(seq)-1)*V, V))
	var mx float64 = math.Inf(-1)
	for _, v := range host {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range host {
		sum += math.Exp(float64(v) - mx)
	}
	lp := make([]float64, V)
	for i, v := range host {
		lp[i] = float64(v) - mx - math.Log(sum)
	}
	if penalty != 1 {
		seen := map[int32]bool{}
		for _, id := range seq {
			if seen[id] {
				continue
			}
			seen[id] = true
			if lp[id] < 0 {
				lp[id] *= penalty
			} else {
				lp[id] /= penalty
			}
		}
	}
	return lp
}

// refBeamSearch is HF's beam search written plainly: whole sequences, no
// cache, a full sort of all candidates.
func refBeamSearch(m *Model, prompt []int32, nb, maxNew int, penalty float64) BeamResult {
	type beam struct {
		seq   []int32 // generated
		score float64
	}
	type fin struct {
		seq   []int32
		score float64
	}
	var finished []fin
	worst := 1e9
	addFin := func(seq []int32, sum float64, n int) {
		sc := sum / float64(n)
		if len(finished) < nb || sc > worst {
			finished = append(finished, fin{seq, sc})
			if len(finished) > nb {
				w := 0
				for i := range finished {
					if finished[i].score < finished[w].score {
						w = i
					}
				}
				finished = slices.Delete(finished, w, w+1)
			}
			worst = 1e9
			for _, f := range finished {
				worst = math.Min(worst, f.score)
			}
		}
	}
	beams := make([]beam, nb)
	for j := 1; j < nb; j++ {
		beams[j].score = -1e9
	}
	V := m.Cfg.VocabSize
	done := false
	for t := 0; t < maxNew && !done; t++ {
		type cand struct {
			score float64
			j     int
			tok   int32
		}
		var all []cand
		for j, b := range beams {
			lp := nextLogProbs(m, append(slices.Clone(prompt), b.seq...), penalty)
			for v := 0; v < V; v++ {
				all = append(all, cand{b.score + lp[v], j, int32(v)})
			}
		}
		slices.SortStableFunc(all, func(a, b cand) int {
			if a.score > b.score {
				return -1
			}
			if a.score < b.score {
				return 1
			}
			return 0
		})
		all = all[:2*nb]
		var next []beam
		for rank, c := range all {
			if m.Cfg.IsEOS(int(c.tok)) {
				if rank < nb {
					addFin(beams[c.j].seq, c.score, t+1)
				}
				continue
			}
			next = append(next, beam{append(slices.Clone(beams[c.j].seq), c.tok), c.score})
			if len(next) == nb {
				break
			}
		}
		beams = next
		if len(finished) >= nb && worst >= all[0].score/float64(t+1) {
			done = true
		}
	}
	if !done {
		for _, b := range beams {
			addFin(b.seq, b.score, len(b.seq))
		}
	}
	best := 0
	for i, f := range finished {
		if f.score >= finished[best].score {
			best = i
		}
	}
	return BeamResult{Tokens: finished[best].seq, Score: finished[best].score}
}

// The cached, batched beam search equals the plain one on a random model,
// with and without the repetition penalty.
func TestBeamMatchesReference(t *testing.T) {
	m := tinyModel(t, 11)
	prompts := [][]int32{{1, 5, 7}, {1}, {1, 9, 9, 4, 2, 6}, {3, 8}}
	for _, pen := range []float64{1, 1.3} {
		for _, nb := range []int{2, 3} {
			got, err := m.NewGenerator(len(prompts)*nb, 32).BeamSearch(prompts, 9, BeamOptions{NumBeams: nb, RepetitionPenalty: float32(pen)})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range prompts {
				want := refBeamSearch(m, p, nb, 9, float64(float32(pen)))
				if !slices.Equal(got[i].Tokens, want.Tokens) || math.Abs(got[i].Score-want.Score) > 1e-6 {
					t.Errorf("penalty %g beams %d prompt %d: got %v (%.7f), want %v (%.7f)", pen, nb, i, got[i].Tokens, got[i].Score, want.Tokens, want.Score)
				}
			}
		}
	}
}

// With as many beams as there are two-token prefixes, a three-step beam
// search prunes nothing that could win, so it must return the best of all
// sequences of up to three tokens (ending in EOS, or three tokens long),
// each scored by its summed log-probability over its length.
func TestBeamExhaustive(t *testing.T) {
	for _, seed := range []uint64{3, 4} {
		m := tinyModel(t, seed)
		V := m.Cfg.VocabSize
		prompt := []int32{1, 6, 4}
		const pen = 1.25
		bestScore, bestSeq := math.Inf(-1), []int32(nil)
		var walk func(seq []int32, sum float64)
		walk = func(seq []int32, sum float64) {
			lp := nextLogProbs(m, append(slices.Clone(prompt), seq...), pen)
			for v := 0; v < V; v++ {
				s := sum + lp[v]
				n := len(seq) + 1
				switch {
				case m.Cfg.IsEOS(v):
					if s/float64(n) > bestScore {
						bestScore, bestSeq = s/float64(n), slices.Clone(seq)
					}
				case n == 3:
					if s/3 > bestScore {
						bestScore, bestSeq = s/3, append(slices.Clone(seq), int32(v))
					}
				default:
					walk(append(slices.Clone(seq), int32(v)), s)
				}
			}
		}
		walk(nil, 0)
		nb := V * V
		got, err := m.NewGenerator(nb, 16).BeamSearch([][]int32{prompt}, 3, BeamOptions{NumBeams: nb, RepetitionPenalty: pen})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0].Tokens, bestSeq) || math.Abs(got[0].Score-bestScore) > 1e-6 {
			t.Errorf("seed %d: beam search %v (%.7f), exhaustive best %v (%.7f)", seed, got[0].Tokens, got[0].Score, bestSeq, bestScore)
		}
	}
}

// HF's BeamHypotheses bookkeeping: keep the n best, drop the worst (the
// earliest among equals), best() the last added among equals.
func TestBeamHyps(t *testing.T) {
	h := &beamHyps{n: 2, lp: 1, worst: 1e9}
	h.add([]int32{1}, -2, 1)    // -2
	h.add([]int32{2}, -3, 1)    // -3
	h.add([]int32{3}, -4, 2)    // -2: replaces -3
	h.add([]int32{4}, -10, 2)   // -5: rejected
	h.add([]int32{5, 6}, -6, 3) // -2: equal to the worst, rejected
	if len(h.items) != 2 || h.worst != -2 {
		t.Fatalf("items %+v worst %g", h.items, h.worst)
	}
	if b := h.best(); !slices.Equal(b.tokens, []int32{3}) {
		t.Errorf("best %+v, want the later of two equal scores", b)
	}
	if h.isDone(-4.1, 2) != true || h.isDone(-3.9, 2) != false {
		t.Errorf("isDone wrong with worst %g", h.worst)
	}
}

// One step of the scorer on hand-made logits, with two EOS ids: an EOS
// candidate becomes a hypothesis only when ranked among the first NumBeams,
// the other candidates fill the beams in rank order.
func TestBeamStepByHand(t *testing.T) {
	m := &Model{Cfg: &Config{VocabSize: 4, EOSTokenIDs: []int{2, 3}}}
	g := &Generator{m: m, B: 2}
	s := newBeamState(g, [][]int32{{1}}, 2, 1, 1)
	s.first = true
	// Ranks: token 0, EOS 2, EOS 3, token 1.
	copy(s.host, []float32{3, 1, 2.5, 2})
	if err := s.advance(0); err != nil {
		t.Fatal(err)
	}
	lp := make([]float64, 4)
	logSoftmax(lp, []float32{3, 1, 2.5, 2})
	h := s.hyps[0]
	if len(h.items) != 1 || len(h.items[0].tokens) != 0 || h.items[0].score != lp[2] {
		t.Fatalf("hypotheses %+v, want only EOS 2 with score %g", h.items, lp[2])
	}
	if !slices.Equal(s.next, []int32{0, 1}) || s.score[0] != lp[0] || s.score[1] != lp[1] || !slices.Equal(s.src, []int{0, 0}) {
		t.Errorf("beams next %v score %v src %v", s.next, s.score, s.src)
	}
	if s.done[0] {
		t.Error("done with one of two hypotheses")
	}
	// Step 2: beam 1 (score lp[1]) ends at once, beam 0 continues.
	s.host = []float32{5, 0, 0, 0, 0, 0, 9, 0}
	if err := s.advance(1); err != nil {
		t.Fatal(err)
	}
	if len(h.items) != 2 || !slices.Equal(h.items[1].tokens, []int32{1}) {
		t.Fatalf("hypotheses %+v", h.items)
	}
	if !slices.Equal(s.src, []int{0, 0}) || !slices.Equal(s.seq[0], []int32{0, 0}) {
		t.Errorf("src %v seq %v", s.src, s.seq)
	}
}
