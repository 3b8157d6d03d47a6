package comm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/cuda"
)

// Comm is one rank's end of a communicator. Every rank must call the same
// collectives (AllReduceSum, AllReduceFloat64, Barrier) in the same order
// with the same element counts; a mismatch is reported as an error on
// every rank. Calls on one Comm are serialized.
type Comm interface {
	// Rank is this process's rank, 0 ≤ Rank < Size.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// LocalRank is the rank among the processes of this machine (it picks
	// the GPU).
	LocalRank() int
	// AllReduceSum replaces the first n elements of buf, a buffer of be,
	// by their sum over the ranks. Host communicators read and write the
	// buffer through be (directly for CPU buffers); NCCL reduces device
	// buffers on the backend's stream and returns once the reduction is
	// queued.
	AllReduceSum(be backend.Backend, buf backend.Buf, n int) error
	// AllReduceFloat64 replaces each value of v by its sum over the ranks,
	// added in rank order.
	AllReduceFloat64(v []float64) error
	// Barrier returns once every rank has called it. It does not wait for
	// queued device work: call be.Sync first when that matters.
	Barrier() error
	// Close releases the communicator's connections and resources. Later
	// calls return ErrClosed.
	Close() error
}

// ErrClosed is returned by the collectives of a closed communicator.
var ErrClosed = errors.New("comm: communicator closed")

// Defaults for Options.
const (
	// DefaultTimeout bounds each collective: how long a rank waits for the
	// slowest other rank (as gloo's default).
	DefaultTimeout = 30 * time.Minute
	// DefaultConnectTimeout bounds the rendezvous: how long rank 0 waits
	// for the others to connect, and they keep trying to reach it.
	DefaultConnectTimeout = 10 * time.Minute
	// DefaultPort is MASTER_PORT when it is not set (as torchrun's).
	DefaultPort = 29500
)

// Options tune the communicators. The zero value is ready to use.
type Options struct {
	// Timeout bounds each collective; 0 means Env.Timeout in Open, else
	// DefaultTimeout.
	Timeout time.Duration
	// ConnectTimeout bounds the rendezvous; 0 means Env.ConnectTimeout in
	// Open, else DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Listener, when set, is where rank 0 of a TCP or NCCL communicator
	// accepts the other ranks instead of listening on the address itself
	// (tests listen on port 0 this way); other ranks ignore it. Rank 0
	// closes it once every rank has joined.
	Listener net.Listener
	// NCCL says where Open looks for libnccl.so.2 (the zero value searches
	// the standard places; tests point it at the stand-in).
	NCCL cuda.LoadOptions
	// Notice receives Open's one-line notice of the communicator chosen;
	// nil means standard error. Use io.Discard to silence it.
	Notice io.Writer
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o Options) connectTimeout() time.Duration {
	if o.ConnectTimeout > 0 {
		return o.ConnectTimeout
	}
	return DefaultConnectTimeout
}

// Single returns the communicator of a run with one rank: rank 0 of 1,
// where every collective checks its arguments and changes nothing.
func Single() Comm { return &single{} }

type single struct{ closed bool }

func (s *single) Rank() int      { return 0 }
func (s *single) Size() int      { return 1 }
func (s *single) LocalRank() int { return 0 }
func (s *single) String() string { return "single" }

func (s *single) AllReduceSum(be backend.Backend, buf backend.Buf, n int) error {
	if s.closed {
		return ErrClosed
	}
	return checkBuf(buf, n)
}

func (s *single) AllReduceFloat64(v []float64) error {
	if s.closed {
		return ErrClosed
	}
	return nil
}

func (s *single) Barrier() error {
	if s.closed {
		return ErrClosed
	}
	return nil
}

func (s *single) Close() error { s.closed = true; return nil }

// checkBuf checks the arguments of AllReduceSum.
func checkBuf(buf backend.Buf, n int) error {
	if buf == nil {
		return fmt.Errorf("comm: AllReduceSum of a nil buffer")
	}
	if n < 0 || n > buf.Len() {
		return fmt.Errorf("comm: AllReduceSum of %d elements of a buffer of %d", n, buf.Len())
	}
	return nil
}
