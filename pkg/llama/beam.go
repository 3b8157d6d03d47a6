package llama

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/smt-go/smt/pkg/backend"
)

// Beam search as Hugging Face transformers (4.38, the SMT reference's
// version) runs it for generate(num_beams=n, do_sample=False,
// repetition_penalty=r, max_new_tokens=m), with the key/value cache:
//
//   - every prompt has n beams; at the start beam 0 scores 0 and the others
//     −1e9, so the first step expands beam 0 only;
//   - each step, a beam's next-token scores are log_softmax(logits), then
//     the repetition penalty (HF applies its logits processors to the
//     log-probabilities in beam search: a penalised log-probability, being
//     negative, is multiplied by r), plus the beam's running score;
//   - the best (1+#EOS ids)·n of the n·V candidates are taken in order
//     (ties: lower beam, then lower token id); a candidate ending in EOS
//     becomes a finished hypothesis if its rank is below n, scored
//     sum / (new tokens incl. EOS)^length_penalty; the first n other
//     candidates become the next beams, whose cache rows are copied into
//     place;
//   - a prompt is done (early_stopping=False) once it has n finished
//     hypotheses and the worst of them scores at least the best candidate's
//     sum divided by the current new length^length_penalty;
//   - at max_new_tokens the open beams join the hypotheses (scored by
//     their own length), and the best hypothesis is returned (on equal
//     scores, the one added last).
//
// Differences from HF: scores are computed in float64 (HF: float32), and
// the left padding of a batch is not penalised by the repetition penalty
// (HF penalises the pad id, which makes its results depend on batching).

// BeamOptions configure Generator.BeamSearch.
type BeamOptions struct {
	// NumBeams is the beam width (the SMT reference uses 4). 1 gives
	// greedy decoding.
	NumBeams int
	// RepetitionPenalty is HF's repetition_penalty (0 or 1: none).
	RepetitionPenalty float32
	// LengthPenalty is HF's length_penalty, the exponent of the length
	// that divides a hypothesis's summed log-probability. 0 means 1.0,
	// HF's default.
	LengthPenalty float64
}

// BeamResult is the best hypothesis of one prompt.
type BeamResult struct {
	// Tokens are the generated ids, without the end-of-sequence id.
	Tokens []int32
	// Score is the hypothesis's summed (penalised) log-probability divided
	// by its length^LengthPenalty, the length counting a final EOS.
	Score float64
}

// BeamSearch continues each prompt by beam search with up to maxNew new
// tokens (see the comment at the top of beam.go). The generator needs
// len(prompts)·NumBeams sequences. Each result equals searching that
// prompt alone.
func (g *Generator) BeamSearch(prompts [][]int32, maxNew int, o BeamOptions) ([]BeamResult, error) {
	nb := o.NumBeams
	if nb < 1 {
		return nil, fmt.Errorf("beam search: %d beams", nb)
	}
	L, err := g.checkPrompts(prompts, len(prompts)*nb, maxNew)
	if err != nil {
		return nil, fmt.Errorf("beam search: %w", err)
	}
	lp := o.LengthPenalty
	if lp == 0 {
		lp = 1
	}
	s := newBeamState(g, prompts, nb, lp, o.RepetitionPenalty)
	defer s.free()
	if maxNew == 0 {
		return make([]BeamResult, len(prompts)), nil
	}
	s.prefill(L)
	for t := 0; t < maxNew; t++ {
		if err := s.advance(t); err != nil {
			return nil, fmt.Errorf("beam search: step %d: %w", t, err)
		}
		if s.allDone() || t == maxNew-1 {
			break
		}
		s.reorder(L + t)
		g.step(s.next, 1, L+t, s.start)
		g.m.BE.Download(s.host, g.logits)
	}
	return s.finalize(), nil
}

// beamState is the bookkeeping of one BeamSearch call. Row r of the
// generator holds beam r%nb of prompt r/nb; rows past the prompts' beams
// copy the last row and are never read.
type beamState struct {
	g       *Generator
	prompts [][]int32
	nb      int
	lp      float64
	penalty float32
	K       int // candidates taken per prompt and step

	start []int32     // [B] first real cache position of each row
	host  []float32   // [B·V] logits of the last step
	score []float64   // [rows] running sums of the beams
	seq   [][]int32   // [rows] generated tokens of the beams
	src   []int       // [B] the row each row's cache comes from
	next  []int32     // [B] the tokens fed at the next step
	hyps  []*beamHyps // [prompts]
	done  []bool      // [prompts]
	first bool        // the logits are the prefill's, one row per prompt
	tmp   backend.Buf // scratch for reordering cache rows
	cands [][]beamCand
	work  []*beamWorker
}

// beamWorker is the scratch of one goroutine of rowCandidates.
type beamWorker struct {
	lp  []float64 // [V] processed log-probabilities of a row
	pen *RepetitionPenalty
}

// beamCand is a candidate continuation: beam j of a prompt extended by tok,
// with the summed score.
type beamCand struct {
	score float64
	j     int
	tok   int32
}

// better orders candidates as torch.topk with ties broken by flat index
// (beam, then token).
func (a beamCand) better(b beamCand) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if a.j != b.j {
		return a.j < b.j
	}
	return a.tok < b.tok
}

func newBeamState(g *Generator, prompts [][]int32, nb int, lp float64, penalty float32) *beamState {
	c := g.m.Cfg
	P, rows := len(prompts), len(prompts)*nb
	s := &beamState{g: g, prompts: prompts, nb: nb, lp: lp, penalty: penalty,
		K:     max(2, 1+len(c.EOSTokenIDs)) * nb,
		host:  make([]float32, g.B*c.VocabSize),
		score: make([]float64, rows), seq: make([][]int32, rows),
		src: make([]int, g.B), next: make([]int32, g.B),
		hyps: make([]*beamHyps, P), done: make([]bool, P), cands: make([][]beamCand, rows)}
	for r := range s.score {
		if r%nb != 0 {
			s.score[r] = -1e9
		}
	}
	for p := range s.hyps {
		s.hyps[p] = &beamHyps{n: nb, lp: lp, worst: 1e9}
	}
	return s
}

func (s *beamState) free() {
	if s.tmp != nil {
		s.g.m.BE.Free(s.tmp)
	}
}

// prefill runs the prompts through the first len(prompts) rows of the
// cache, then copies each prompt's rows to all its beams.
func (s *beamState) prefill(L int) {
	g := s.g
	P := len(s.prompts)
	ids, start := leftPad(s.prompts, P, L)
	sub := g.firstRows(P)
	sub.step(ids, L, 0, start)
	if sub.rows > g.rows {
		g.la, g.rows = sub.la, sub.rows
	}
	V := g.m.Cfg.VocabSize
	g.m.BE.Download(s.host[:P*V], g.m.BE.Slice(g.logits, 0, P*V))
	s.start = make([]int32, g.B)
	for r := range s.src {
		p := min(r/s.nb, P-1)
		s.src[r] = p
		s.start[r] = start[p]
	}
	s.first = true
	s.reorder(L)
}

// firstRows returns a generator over the first n sequences of g's cache,
// sharing g's buffers.
func (g *Generator) firstRows(n int) *Generator {
	if n == g.B {
		return g
	}
	c, be := g.m.Cfg, g.m.BE
	D, V := c.HiddenSize, c.VocabSize
	return &Generator{m: g.m, B: n, Tmax: g.Tmax, kc: g.kc, vc: g.vc, la: g.la, rows: g.rows,
		last: be.Slice(g.last, 0, n*D), lnf: be.Slice(g.lnf, 0, n*D), logits: be.Slice(g.logits, 0, n*V)}
}

// advance scores the candidates of step t for every open prompt, records
// finished hypotheses and sets up the next beams (s.score, s.seq, s.src,
// s.next).
func (s *beamState) advance(t int) error {
	g := s.g
	V := g.m.Cfg.VocabSize
	s.rowCandidates()
	newScore := append([]float64(nil), s.score...)
	newSeq := append([][]int32(nil), s.seq...)
	for r := range s.src {
		s.src[r] = r
	}
	merged := make([]beamCand, 0, s.nb*s.K)
	for p := range s.prompts {
		if s.done[p] {
			continue
		}
		merged = merged[:0]
		for j := 0; j < s.nb; j++ {
			merged = append(merged, s.cands[p*s.nb+j]...)
		}
		top := topCands(merged, s.K)
		n := 0
		for rank, cd := range top {
			from := p*s.nb + cd.j
			if g.m.Cfg.IsEOS(int(cd.tok)) {
				if rank < s.nb {
					s.hyps[p].add(s.seq[from], cd.score, t+1)
				}
				continue
			}
			r := p*s.nb + n
			newScore[r] = cd.score
			newSeq[r] = append(append(make([]int32, 0, len(s.seq[from])+1), s.seq[from]...), cd.tok)
			s.src[r] = from
			s.next[r] = cd.tok
			n++
			if n == s.nb {
				break
			}
		}
		if n < s.nb {
			return fmt.Errorf("prompt %d: fewer than %d candidates that are not end-of-sequence among %d (vocabulary %d)", p, s.nb, len(top), V)
		}
		s.done[p] = s.hyps[p].isDone(top[0].score, t+1)
	}
	s.score, s.seq = newScore, newSeq
	s.first = false
	return nil
}

// rowCandidates fills s.cands[r] with the best K candidates of every row
// of an open prompt, in parallel over rows.
func (s *beamState) rowCandidates() {
	V := s.g.m.Cfg.VocabSize
	var rows []int
	for r := range s.score {
		if !s.done[r/s.nb] {
			rows = append(rows, r)
		}
	}
	workers := min(len(rows), runtime.GOMAXPROCS(0))
	for len(s.work) < workers {
		s.work = append(s.work, &beamWorker{lp: make([]float64, V), pen: NewRepetitionPenalty(s.penalty, V)})
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lp, pen := s.work[w].lp, s.work[w].pen
			for i := w; i < len(rows); i += workers {
				r := rows[i]
				p := r / s.nb
				src := r
				if s.first {
					src = p
				}
				logSoftmax(lp, s.host[src*V:(src+1)*V])
				if pen.Active() {
					for _, id := range pen.Set(s.prompts[p], s.seq[r]) {
						lp[id] = penalize(lp[id], float64(pen.Penalty))
					}
				}
				s.cands[r] = rowTop(s.cands[r][:0], lp, s.score[r], r%s.nb, s.K)
			}
		}(w)
	}
	wg.Wait()
}

// logSoftmax writes log_softmax(x) into dst, in float64.
func logSoftmax(dst []float64, x []float32) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = max(mx, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(sum)
	for i, v := range x {
		dst[i] = float64(v) - lse
	}
}

// rowTop returns the best k candidates base+lp[tok] of beam j, best first.
func rowTop(dst []beamCand, lp []float64, base float64, j, k int) []beamCand {
	for tok, v := range lp {
		c := beamCand{score: base + v, j: j, tok: int32(tok)}
		if len(dst) == k && !c.better(dst[k-1]) {
			continue
		}
		if len(dst) < k {
			dst = append(dst, c)
		} else {
			dst[k-1] = c
		}
		for i := len(dst) - 1; i > 0 && dst[i].better(dst[i-1]); i-- {
			dst[i], dst[i-1] = dst[i-1], dst[i]
		}
	}
	return dst
}

// topCands returns the best k of cands, best first (cands is reordered).
func topCands(cands []beamCand, k int) []beamCand {
	// Insertion sort: cands holds at most nb·K entries, a few dozen.
	for i := 1; i < len(cands); i++ {
		for j := i; j > 0 && cands[j].better(cands[j-1]); j-- {
			cands[j], cands[j-1] = cands[j-1], cands[j]
		}
	}
	return cands[:min(k, len(cands))]
}

// reorder makes every row r of the cache hold row s.src[r]'s first n
// positions. Sources that are themselves overwritten are saved first.
func (s *beamState) reorder(n int) {
	g, be := s.g, s.g.m.BE
	KD := g.m.Cfg.KVDim()
	stride := g.Tmax * KD
	var saved []int // sources overwritten before they are read
	needSave := make([]bool, g.B)
	moved := false
	for r, from := range s.src {
		if from != r {
			moved = true
			if s.src[from] != from && !needSave[from] {
				needSave[from] = true
				saved = append(saved, from)
			}
		}
	}
	if !moved {
		return
	}
	if len(saved) > 0 && s.tmp == nil {
		s.tmp = be.Alloc(be.DType(), g.B*stride)
	}
	row := func(b backend.Buf, r int) backend.Buf { return be.Slice(b, r*stride, n*KD) }
	for _, cache := range [][]backend.Buf{g.kc, g.vc} {
		for _, buf := range cache {
			for i, from := range saved {
				be.Copy2D(row(s.tmp, i), n*KD, row(buf, from), n*KD, 1, n*KD)
			}
			for r, from := range s.src {
				if from == r {
					continue
				}
				srcRow := row(buf, from)
				if needSave[from] {
					for i, sv := range saved {
						if sv == from {
							srcRow = row(s.tmp, i)
							break
						}
					}
				}
				be.Copy2D(row(buf, r), n*KD, srcRow, n*KD, 1, n*KD)
			}
		}
	}
}

func (s *beamState) allDone() bool {
	for _, d := range s.done {
		if !d {
			return false
		}
	}
	return true
}

// finalize adds the open beams of unfinished prompts to their hypotheses
// and returns each prompt's best.
func (s *beamState) finalize() []BeamResult {
	out := make([]BeamResult, len(s.prompts))
	for p := range s.prompts {
		h := s.hyps[p]
		if !s.done[p] {
			for j := 0; j < s.nb; j++ {
				r := p*s.nb + j
				h.add(s.seq[r], s.score[r], len(s.seq[r]))
			}
		}
		best := h.best()
		out[p] = BeamResult{Tokens: append([]int32{}, best.tokens...), Score: best.score}
	}
	return out
}

// beamHyps is HF's BeamHypotheses: the n best finished hypotheses of a
// prompt.
type beamHyps struct {
	n     int
	lp    float64
	items []beamHyp
	worst float64
}

type beamHyp struct {
	score  float64
	tokens []int32
}

// add offers a hypothesis with summed log-probability sum and genLen new
// tokens.
func (h *beamHyps) add(tokens []int32, sum float64, genLen int) {
	score := sum / math.Pow(float64(genLen), h.lp)
	if len(h.items) >= h.n && score <= h.worst {
		return
	}
	h.items = append(h.items, beamHyp{score: score, tokens: tokens})
	if len(h.items) <= h.n {
		h.worst = min(score, h.worst)
		return
	}
	// Drop the worst (the earliest on ties), as HF's sorted() of
	// (score, index) pairs does; the new worst is the next one.
	drop := 0
	for i, it := range h.items {
		if it.score < h.items[drop].score {
			drop = i
		}
	}
	h.items = append(h.items[:drop], h.items[drop+1:]...)
	h.worst = h.items[0].score
	for _, it := range h.items {
		h.worst = min(h.worst, it.score)
	}
}

// isDone is HF's is_done with early_stopping=False: n hypotheses, and none
// of the open beams (whose best summed score is best at genLen new tokens)
// can beat the worst of them.
func (h *beamHyps) isDone(best float64, genLen int) bool {
	if len(h.items) < h.n {
		return false
	}
	return h.worst >= best/math.Pow(float64(genLen), h.lp)
}

// best returns the highest-scoring hypothesis, the last added on ties.
func (h *beamHyps) best() beamHyp {
	b := 0
	for i, it := range h.items {
		if it.score >= h.items[b].score {
			b = i
		}
	}
	return h.items[b]
}
