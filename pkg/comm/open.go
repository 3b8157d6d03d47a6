package comm

import (
	"fmt"
	"os"
	"strings"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/cuda"
)

// Open returns the communicator for env and the backend be (see OpenWith).
func Open(env Env, be backend.Backend) (Comm, error) { return OpenWith(env, be, Options{}) }

// OpenWith picks and joins the communicator of a run:
//
//   - Single when env.Size is 1;
//   - NCCL when be is a device backend (it implements Device) and
//     libnccl.so.2 loads (env.Comm "nccl" requires it);
//   - TCP otherwise, or when env.Comm is "tcp".
//
// It writes one line saying what it chose to o.Notice (rank 0, and any rank
// that falls back from NCCL to TCP), with env's notes. Every rank must
// make the same choice; the rendezvous fails with an error saying so if
// they do not.
func OpenWith(env Env, be backend.Backend, o Options) (Comm, error) {
	if env.Size <= 1 {
		return Single(), nil
	}
	if o.Timeout == 0 {
		o.Timeout = env.Timeout
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = env.ConnectTimeout
	}
	w := o.Notice
	if w == nil {
		w = os.Stderr
	}
	dev, isDev := be.(Device)
	var lib *cuda.NCCL
	var why string
	switch env.Comm {
	case "tcp":
		why = "SMT_COMM=tcp"
	case "", "auto", "nccl":
		if !isDev {
			why = fmt.Sprintf("backend %s is not a CUDA device", name(be))
			break
		}
		var err error
		if lib, err = cuda.LoadNCCL(o.NCCL); err != nil {
			why = "NCCL: " + oneLine(err)
		}
	default:
		return nil, fmt.Errorf("comm: unknown communicator %q: use auto, tcp or nccl", env.Comm)
	}
	if lib == nil && env.Comm == "nccl" {
		return nil, fmt.Errorf("comm: SMT_COMM=nccl, but %s", why)
	}
	prefix := fmt.Sprintf("comm: rank %d of %d (local rank %d, %s)", env.Rank, env.Size, env.LocalRank, env.Launcher)
	notes := ""
	if len(env.Notes) > 0 {
		notes = "; " + strings.Join(env.Notes, "; ")
	}
	if lib != nil {
		if env.Rank == 0 {
			fmt.Fprintf(w, "%s: NCCL %s (%s), side channel at %s%s\n", prefix, ncclVersion(lib.Version()), lib.Path(), env.Addr(), notes)
		}
		return NewNCCL(env.Rank, env.Size, env.LocalRank, env.Addr(), lib, dev, o)
	}
	if env.Rank == 0 || isDev {
		fmt.Fprintf(w, "%s: TCP, rank 0 at %s (%s)%s\n", prefix, env.Addr(), why, notes)
	}
	return NewTCP(env.Rank, env.Size, env.LocalRank, env.Addr(), o)
}

func name(be backend.Backend) string {
	if be == nil {
		return "<nil>"
	}
	return be.Name()
}

// ncclVersion formats NCCL's version code (22105 → 2.21.5).
func ncclVersion(v int) string { return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100) }

// oneLine keeps the first line of err.
func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
