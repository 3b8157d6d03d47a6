package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/cmdutil"
)

// ErrInterrupted is returned by Run when its context is cancelled.
var ErrInterrupted = errors.New("interrupted")

// Runner drives a Trainer for a number of steps: one progress line and one
// metrics.jsonl record per step, held-out loss every EvalEvery steps (and
// at the start and the end) with the best values kept, and periodic
// checkpoints from which a later run resumes bit for bit.
type Runner struct {
	T     *Trainer
	Steps int // total optimizer steps of the run

	Eval      Source // held-out examples (nil: none)
	EvalBatch int
	EvalEvery int
	// KeepBest keeps a copy of the trained values with the lowest held-out
	// loss in Best.
	KeepBest bool
	Best     backend.Buf // F32 [N]
	BestLoss float64     // NaN until the first evaluation
	BestStep int

	CheckpointDir   string
	CheckpointEvery int
	KeepCheckpoints int // most recent checkpoints kept (default 2)
	Fingerprint     string

	Metrics  io.Writer // metrics.jsonl (nil: none)
	Progress *cmdutil.Progress
	// FLOPsPerToken, when set, adds model FLOP/s to the progress line.
	FLOPsPerToken float64

	// OnStep is called after each step (after evaluation).
	OnStep func(StepStats)

	initialized bool
}

// Resume loads the newest checkpoint of CheckpointDir, if any, and reports
// whether it did.
func (r *Runner) Resume() (bool, error) {
	r.init()
	cks, err := Checkpoints(r.CheckpointDir)
	if err != nil {
		return false, err
	}
	if len(cks) == 0 {
		return false, nil
	}
	last := cks[len(cks)-1]
	if err := r.LoadCheckpoint(last); err != nil {
		return false, err
	}
	r.Progress.Printf("resumed from %s (step %d, epoch %d, example %d)", last, r.T.Step, r.T.Pos.Epoch, r.T.Pos.Next)
	return true, nil
}

func (r *Runner) init() {
	if r.initialized {
		return
	}
	r.initialized = true
	r.BestLoss = math.NaN()
	if r.KeepBest && r.Best == nil {
		be := r.T.M.BE
		r.Best = be.Alloc(backend.F32, r.T.T.N)
		be.Copy2D(r.Best, r.T.T.N, r.T.T.Master, r.T.T.N, 1, r.T.T.N)
	}
	if r.KeepCheckpoints <= 0 {
		r.KeepCheckpoints = 2
	}
}

// leader reports whether this process writes outputs: the only rank, or
// rank 0 of a data-parallel run.
func (r *Runner) leader() bool { return r.T.Comm == nil || r.T.Comm.Rank() == 0 }

// metric writes one JSON line to the metrics stream.
func (r *Runner) metric(v map[string]any) error {
	if r.Metrics == nil || !r.leader() {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = r.Metrics.Write(append(b, '\n'))
	return err
}

// evaluate computes the held-out loss and keeps the best values.
func (r *Runner) evaluate() error {
	if r.Eval == nil {
		return nil
	}
	start := time.Now()
	loss, n := r.T.EvalLoss(r.Eval, max(r.EvalBatch, 1))
	better := !math.IsNaN(loss) && (math.IsNaN(r.BestLoss) || loss < r.BestLoss)
	if better {
		r.BestLoss, r.BestStep = loss, r.T.Step
		if r.KeepBest {
			N := r.T.T.N
			r.T.M.BE.Copy2D(r.Best, N, r.T.T.Master, N, 1, N)
		}
	}
	mark := ""
	if better {
		mark = " (best)"
	}
	if r.leader() {
		r.Progress.Event("eval", fmt.Sprintf("step %d  eval_loss %.4f over %d tokens%s  %.1fs", r.T.Step, loss, n, mark, time.Since(start).Seconds()),
			map[string]any{"step": r.T.Step, "eval_loss": loss, "eval_tokens": n, "best": better})
	}
	return r.metric(map[string]any{"step": r.T.Step, "eval_loss": loss, "eval_tokens": n, "best": better})
}

// Run trains until Steps optimizer steps are done or ctx is cancelled. On
// cancellation it writes a checkpoint (when a checkpoint directory is set)
// and returns ErrInterrupted.
func (r *Runner) Run(ctx context.Context) error {
	r.init()
	t := r.T
	if t.Step == 0 {
		if err := r.evaluate(); err != nil {
			return err
		}
	}
	for t.Step < r.Steps {
		if ctx.Err() != nil {
			if r.CheckpointDir != "" {
				if err := r.checkpoint(); err != nil {
					return err
				}
				return fmt.Errorf("%w at step %d; a checkpoint was written, rerun with --resume to continue", ErrInterrupted, t.Step)
			}
			return fmt.Errorf("%w at step %d", ErrInterrupted, t.Step)
		}
		st := t.TrainStep()
		tps := float64(st.Tokens) / st.Duration.Seconds()
		msg := fmt.Sprintf("step %d/%d  loss %.4f  lr %.3g  grad_norm %.3g  %.0f tok/s  %.0f ms  epoch %.2f",
			st.Step, r.Steps, st.Loss, st.LR, st.GradNorm, tps, float64(st.Duration.Microseconds())/1000, st.Epoch)
		fields := map[string]any{"step": st.Step, "loss": st.Loss, "lr": st.LR, "grad_norm": st.GradNorm,
			"tokens": st.Tokens, "targets": st.Targets, "tokens_per_s": tps, "ms": float64(st.Duration.Microseconds()) / 1000, "epoch": st.Epoch}
		if r.FLOPsPerToken > 0 {
			gf := r.FLOPsPerToken * tps / 1e9
			msg += fmt.Sprintf("  %.1f GFLOP/s", gf)
			fields["gflops"] = gf
		}
		if r.leader() {
			r.Progress.Event("step", msg, fields)
		}
		if err := r.metric(fields); err != nil {
			return err
		}
		if r.Eval != nil && ((r.EvalEvery > 0 && st.Step%r.EvalEvery == 0) || st.Step == r.Steps) {
			if err := r.evaluate(); err != nil {
				return err
			}
		}
		if r.OnStep != nil {
			r.OnStep(st)
		}
		if r.CheckpointDir != "" && r.CheckpointEvery > 0 && st.Step%r.CheckpointEvery == 0 && st.Step < r.Steps {
			if err := r.checkpoint(); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkpoint writes the checkpoint of the current step and prunes old ones
// (on the leader only: every rank holds the same state).
func (r *Runner) checkpoint() error {
	if !r.leader() {
		return nil
	}
	if err := os.MkdirAll(r.CheckpointDir, 0o755); err != nil {
		return err
	}
	path := r.CheckpointDir + "/" + CheckpointName(r.T.Step)
	if err := r.SaveCheckpoint(path); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(r.CheckpointDir); err != nil {
		return err
	}
	cks, err := Checkpoints(r.CheckpointDir)
	if err != nil {
		return err
	}
	for len(cks) > r.KeepCheckpoints {
		os.Remove(cks[0])
		cks = cks[1:]
	}
	return nil
}
