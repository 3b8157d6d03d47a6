// Package train is the training engine shared by the warmup and train
// stages: a data loader over token shards, AdamW over one flat buffer of
// trained values (whole tensors or SMT blocks), gradient accumulation,
// global-norm clipping, learning-rate schedules, held-out loss, and
// checkpoints that resume bit for bit.
package train

import (
	"fmt"
	"math"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/llama"
)

// Options are the optimizer and schedule settings.
type Options struct {
	LR          float64
	Schedule    string // linear, cosine, constant
	Warmup      int    // learning-rate warm-up steps
	Steps       int    // total optimizer steps
	Beta1       float64
	Beta2       float64
	Eps         float64
	WeightDecay float64
	Clip        float64 // global gradient-norm limit; 0: none
	Accum       int     // micro-batches per optimizer step
}

// DefaultOptions are SMT's settings: AdamW β (0.9, 0.95), ε 1e-8, no weight
// decay, clipping at 1.0, linear decay, no warm-up, one micro-batch per
// step.
func DefaultOptions() Options {
	return Options{LR: 1e-4, Schedule: "linear", Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1, Accum: 1}
}

// Validate checks the options.
func (o Options) Validate() error {
	if err := ParseScheduleKind(o.Schedule); err != nil {
		return err
	}
	switch {
	case o.LR < 0 || math.IsNaN(o.LR):
		return fmt.Errorf("learning rate %g must be ≥ 0", o.LR)
	case o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1:
		return fmt.Errorf("AdamW betas (%g, %g) must lie in [0, 1)", o.Beta1, o.Beta2)
	case o.Eps <= 0:
		return fmt.Errorf("AdamW epsilon %g must be positive", o.Eps)
	case o.Accum <= 0:
		return fmt.Errorf("gradient accumulation %d must be positive", o.Accum)
	case o.Clip < 0:
		return fmt.Errorf("gradient clipping %g must be ≥ 0", o.Clip)
	}
	return nil
}

// StepStats describes one optimizer step.
type StepStats struct {
	Step     int     // 1-based optimizer step just done
	Loss     float64 // mean loss over the step's targets
	Targets  int     // loss tokens
	Tokens   int     // real input tokens
	GradNorm float64 // before clipping
	LR       float64
	Epoch    float64 // fractional epoch reached
	Duration time.Duration
}

// Reducer is what data-parallel training needs from a communicator
// (package comm provides them): sums over all ranks, in place, with the
// same bits on every rank.
type Reducer interface {
	Rank() int
	Size() int
	AllReduceSum(be backend.Backend, buf backend.Buf, n int) error
	AllReduceFloat64(v []float64) error
}

// Trainer runs optimizer steps of a model over a loader.
type Trainer struct {
	M      *llama.Model
	T      *Trainable
	Opt    Options
	Loader *Loader
	Pos    Pos // next data position
	Step   int // optimizer steps done

	// OnGrads, when set, is called after each step's gradients are complete
	// (summed over its micro-batches and ranks, before clipping and the
	// update).
	OnGrads func(step int)

	// Comm, when set, makes the step data parallel: the loader gives each
	// rank its share of the batch, the loss is normalised by the targets of
	// all ranks, and the gradients are summed over ranks before the update
	// (which then runs identically everywhere).
	Comm Reducer

	sched   Schedule
	acts    *llama.Acts
	scratch *llama.GradScratch
}

// NewTrainer allocates activations and scratch for the loader's largest
// batch.
func NewTrainer(m *llama.Model, tr *Trainable, opt Options, l *Loader) (*Trainer, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	t := &Trainer{M: m, T: tr, Opt: opt, Loader: l,
		sched: Schedule{Kind: opt.Schedule, Peak: opt.LR, Warmup: opt.Warmup, Total: opt.Steps}}
	maxT := l.MaxLen
	if !l.Pack {
		maxT = 0
		for i := 0; i < l.Len(); i++ {
			maxT = max(maxT, len(l.src.Get(i).IDs))
		}
	}
	t.acts = m.NewTrainActs(l.B, maxT, tr.Targets)
	t.scratch = m.NewGradScratch(l.B * maxT)
	return t, nil
}

// Acts returns the training activations (for memory reports).
func (t *Trainer) Acts() *llama.Acts { return t.acts }

// Scratch returns the backward's scratch (for memory reports).
func (t *Trainer) Scratch() *llama.GradScratch { return t.scratch }

// TrainStep runs one optimizer step: Accum micro-batches of forward and
// backward, the loss averaged over all their targets (on all ranks),
// OnGrads, clipping and AdamW (unless the trainable is frozen). A
// communication failure panics (the run cannot continue consistently).
func (t *Trainer) TrainStep() StepStats {
	start := time.Now()
	be := t.M.BE
	batches := make([]*Batch, t.Opt.Accum)
	local := [2]float64{}
	for i := range batches {
		batches[i], t.Pos = t.Loader.Next(t.Pos)
		local[0] += float64(batches[i].Count)
		local[1] += float64(batches[i].Tokens)
	}
	global := local
	t.reduce(global[:])
	total := int(global[0])
	be.Zero(t.T.Grad)
	st := StepStats{Step: t.Step + 1, Targets: total, Tokens: int(global[1]), LR: t.sched.LR(t.Step)}
	lossSum := []float64{0}
	for _, b := range batches {
		if b.Count == 0 {
			continue // nothing to learn from this micro-batch
		}
		a := t.acts.View(b.B, b.T)
		t.M.Forward(a, b.IDs)
		s, _ := t.M.LossSum(a, b.Targets, float32(1/float64(total)))
		lossSum[0] += s
		t.M.Backward(a, b.IDs, t.T.Targets, t.scratch)
	}
	if t.Comm != nil && t.Comm.Size() > 1 {
		t.reduce(lossSum)
		if err := t.Comm.AllReduceSum(be, t.T.Grad, t.T.N); err != nil {
			panic(fmt.Sprintf("train: all-reduce of the gradients: %v", err))
		}
	}
	if total > 0 {
		st.Loss = lossSum[0] / float64(total)
	}
	if t.OnGrads != nil {
		t.OnGrads(st.Step)
	}
	st.GradNorm = math.Sqrt(be.SumSquares(t.T.Grad, t.T.N))
	if !t.T.Frozen {
		if t.Opt.Clip > 0 {
			if c := t.Opt.Clip / (st.GradNorm + 1e-6); c < 1 {
				be.Scale(t.T.Grad, float32(c), t.T.N)
			}
		}
		be.AdamWStep(t.T.Master, t.T.Grad, t.T.M, t.T.V, t.T.N, backend.AdamW{
			LR: float32(st.LR), Beta1: float32(t.Opt.Beta1), Beta2: float32(t.Opt.Beta2),
			Eps: float32(t.Opt.Eps), WeightDecay: float32(t.Opt.WeightDecay), Step: st.Step,
		})
		t.T.Sync()
	}
	t.Step++
	st.Epoch = float64(t.Pos.Epoch) + float64(t.Pos.Next)/float64(t.Loader.Len())
	st.Duration = time.Since(start)
	return st
}

// reduce sums host values over the ranks (nothing without a communicator).
func (t *Trainer) reduce(v []float64) {
	if t.Comm == nil || t.Comm.Size() <= 1 {
		return
	}
	if err := t.Comm.AllReduceFloat64(v); err != nil {
		panic(fmt.Sprintf("train: all-reduce: %v", err))
	}
}

// EvalLoss returns the mean loss over every example of src (in order,
// batches of B), and the number of targets.
func (t *Trainer) EvalLoss(src Source, B int) (float64, int) {
	l := &Loader{src: src, B: B, MaxLen: math.MaxInt32, permOf: -1}
	l.perm = make([]int, src.Len())
	for i := range l.perm {
		l.perm[i] = i
	}
	l.permOf = 0
	if t.Comm != nil {
		l.Rank, l.World = t.Comm.Rank(), t.Comm.Size()
	}
	var sum float64
	var n int
	for p := (Pos{}); p.Next < src.Len() && p.Epoch == 0; {
		var b *Batch
		b, p = l.Next(p)
		if b.Count == 0 {
			continue
		}
		if b.B*b.T > t.acts.N() {
			// Longer than the training batches: evaluate row by row.
			for r := 0; r < b.B; r++ {
				s, c := t.evalRows(b, r, r+1)
				sum, n = sum+s, n+c
			}
			continue
		}
		s, c := t.evalRows(b, 0, b.B)
		sum, n = sum+s, n+c
	}
	tot := []float64{sum, float64(n)}
	t.reduce(tot)
	sum, n = tot[0], int(tot[1])
	if n == 0 {
		return math.NaN(), 0
	}
	return sum / float64(n), n
}

func (t *Trainer) evalRows(b *Batch, r0, r1 int) (float64, int) {
	if (r1-r0)*b.T > t.acts.N() {
		panic(fmt.Sprintf("train: evaluation sequence of %d tokens exceeds the activation buffers (%d)", b.T, t.acts.N()))
	}
	a := t.acts.View(r1-r0, b.T)
	ids, tg := b.IDs[r0*b.T:r1*b.T], b.Targets[r0*b.T:r1*b.T]
	t.M.Forward(a, ids)
	return t.M.LossSum(a, tg, 0)
}
