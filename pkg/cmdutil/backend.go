package cmdutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/choose"
	"github.com/smt-go/smt/pkg/comm"
	"github.com/smt-go/smt/pkg/llama"
)

// OpenBackend returns the compute backend the common flags ask for:
// --device cpu, cuda[:N] or auto (CUDA when available, else the CPU with a
// one-line notice through prog). An unknown device name is a usage error.
func OpenBackend(c Common, prog *Progress) (backend.Backend, error) {
	var notice bytes.Buffer
	be, err := choose.OpenWithNotice(c.Device, c.Threads, &notice)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown device") {
			return nil, UsageError{Err: err}
		}
		return nil, err
	}
	if n := strings.TrimSpace(notice.String()); n != "" {
		prog.Event("device", n, map[string]any{"device": "cpu"})
	}
	prog.Event("device", "device: "+be.Name(), map[string]any{"backend": be.Name()})
	return be, nil
}

// OpenRun joins the data-parallel run this process belongs to (torchrun's
// or Slurm's environment; a single process when none is set) and opens its
// backend: with several ranks, --device auto or cuda opens the GPU of the
// local rank. Progress of ranks other than 0 is silenced.
func OpenRun(c Common, prog *Progress) (backend.Backend, comm.Comm, error) {
	env, err := comm.FromEnv()
	if err != nil {
		return nil, nil, UsageError{Err: err}
	}
	if env.Size > 1 {
		if env.Rank != 0 {
			prog.quiet = true
		}
		d := strings.ToLower(c.Device)
		if d == "auto" || d == "cuda" || d == "" {
			if be, err := choose.OpenWithNotice(fmt.Sprintf("cuda:%d", env.LocalRank), c.Threads, nil); err == nil {
				prog.Event("device", "device: "+be.Name(), map[string]any{"backend": be.Name()})
				return joinRun(env, be, prog)
			}
			if d == "cuda" { // each rank may see a single device
				be, err := choose.Open("cuda:0", c.Threads)
				if err != nil {
					return nil, nil, err
				}
				return joinRun(env, be, prog)
			}
		}
	}
	be, err := OpenBackend(c, prog)
	if err != nil {
		return nil, nil, err
	}
	return joinRun(env, be, prog)
}

func joinRun(env comm.Env, be backend.Backend, prog *Progress) (backend.Backend, comm.Comm, error) {
	var notice bytes.Buffer
	cm, err := comm.OpenWith(env, be, comm.Options{Notice: &notice})
	if err != nil {
		return nil, nil, err
	}
	if n := strings.TrimSpace(notice.String()); n != "" {
		prog.Event("comm", n, map[string]any{"rank": env.Rank, "size": env.Size})
	}
	return be, cm, nil
}

// Run is what a training stage starts with: the data-parallel
// communicator, the model on its backend, and a context cancelled by
// Ctrl-C or SIGTERM.
type Run struct {
	Comm  comm.Comm
	Model *llama.Model
	Ctx   context.Context
	stop  context.CancelFunc
}

// StartRun joins the run (OpenRun), loads the model directory onto the
// backend and installs the signal handling. Close releases it all.
func StartRun(c Common, prog *Progress, modelDir string) (*Run, error) {
	be, cm, err := OpenRun(c, prog)
	if err != nil {
		return nil, err
	}
	m, err := llama.Load(modelDir, be)
	if err != nil {
		cm.Close()
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return &Run{Comm: cm, Model: m, Ctx: ctx, stop: stop}, nil
}

// Parallel returns the communicator when the run has several ranks, nil
// for a single process.
func (r *Run) Parallel() comm.Comm {
	if r.Comm.Size() > 1 {
		return r.Comm
	}
	return nil
}

// Leader reports whether this process reports the results (rank 0).
func (r *Run) Leader() bool { return r.Comm.Rank() == 0 }

// Close stops the signal handling and leaves the run.
func (r *Run) Close() error {
	r.stop()
	return r.Comm.Close()
}
