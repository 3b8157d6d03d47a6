package comm

import (
	"fmt"
	"sync"
	"time"

	"github.com/smt-go/smt/pkg/backend"
)

// NewLocal returns the n ranks of an in-process communicator: each is
// meant for its own goroutine (usually with its own backend), and they
// reduce through a shared hub that adds their values in rank order.
func NewLocal(n int) []Comm { return NewLocalWith(n, Options{}) }

// NewLocalWith is NewLocal with options (only Timeout applies: how long a
// rank waits for the others in a collective).
func NewLocalWith(n int, o Options) []Comm {
	if n < 1 {
		panic(fmt.Sprintf("comm: NewLocal(%d): need at least one rank", n))
	}
	h := &hub{n: n, timeout: o.timeout(), closed: make([]bool, n)}
	cs := make([]Comm, n)
	for r := range cs {
		cs[r] = &localComm{h: h, rank: r}
	}
	return cs
}

// hub is the shared state of a local communicator.
type hub struct {
	n       int
	timeout time.Duration

	mu     sync.Mutex
	cur    *round // the collective being gathered, nil between collectives
	err    error  // the failure that broke the communicator
	closed []bool
}

// round is one collective: the ranks' inputs, then the result.
type round struct {
	op      op
	opRank  int // the rank that opened the round
	f32     [][]float32
	f64     [][]float64
	arrived []bool
	count   int

	done  chan struct{} // closed when res* or err is set
	res32 []float32
	res64 []float64
	err   error
}

// failLocked breaks the hub with err and wakes the ranks waiting in the
// current round. h.mu is held.
func (h *hub) failLocked(err error) {
	if h.err == nil {
		h.err = err
	}
	if rd := h.cur; rd != nil {
		rd.err = err
		close(rd.done)
		h.cur = nil
	}
}

type localComm struct {
	h    *hub
	rank int

	mu     sync.Mutex
	seq    uint64
	closed bool
}

func (c *localComm) Rank() int      { return c.rank }
func (c *localComm) Size() int      { return c.h.n }
func (c *localComm) LocalRank() int { return c.rank }
func (c *localComm) String() string { return fmt.Sprintf("local (rank %d of %d)", c.rank, c.h.n) }

// AllReduceSum implements Comm.
func (c *localComm) AllReduceSum(be backend.Backend, buf backend.Buf, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	v, err := hostView(be, buf, n)
	if err != nil {
		// Fail the others too, rather than leave them waiting.
		err = fmt.Errorf("comm: rank %d: %w", c.rank, err)
		c.h.mu.Lock()
		c.h.failLocked(err)
		c.h.mu.Unlock()
		return err
	}
	o := op{kind: kindSum, dtype: wireF32, count: uint64(n)}
	if v.f64 != nil {
		o.dtype = wireF64
	}
	r32, r64, err := c.collective(o, v.f32, v.f64)
	if err != nil {
		return err
	}
	copy(v.f32, r32)
	copy(v.f64, r64)
	if v.put != nil {
		v.put()
	}
	return nil
}

// AllReduceFloat64 implements Comm.
func (c *localComm) AllReduceFloat64(v []float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	_, r64, err := c.collective(op{kind: kindScalars, dtype: wireF64, count: uint64(len(v))}, nil, v)
	if err != nil {
		return err
	}
	copy(v, r64)
	return nil
}

// Barrier implements Comm.
func (c *localComm) Barrier() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	_, _, err := c.collective(op{kind: kindBarrier}, nil, nil)
	return err
}

// Close implements Comm. A rank that closes while the others wait in a
// collective fails that collective.
func (c *localComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	h := c.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed[c.rank] = true
	if rd := h.cur; rd != nil && !rd.arrived[c.rank] {
		h.failLocked(fmt.Errorf("comm: %s: rank %d closed the communicator instead", rd.op, c.rank))
	}
	return nil
}

// collective contributes this rank's input to the current round (opening
// it when this rank is first), and waits for the result. The last rank to
// arrive adds the inputs in rank order.
func (c *localComm) collective(o op, f32 []float32, f64 []float64) ([]float32, []float64, error) {
	o.seq = c.seq
	c.seq++
	h := c.h
	h.mu.Lock()
	if h.err != nil {
		h.mu.Unlock()
		return nil, nil, fmt.Errorf("comm: rank %d: unusable after an earlier failure: %w", c.rank, h.err)
	}
	for r, cl := range h.closed {
		if cl {
			err := fmt.Errorf("comm: %s on rank %d: rank %d has closed the communicator", o, c.rank, r)
			h.failLocked(err)
			h.mu.Unlock()
			return nil, nil, err
		}
	}
	rd := h.cur
	if rd == nil {
		rd = &round{op: o, opRank: c.rank, f32: make([][]float32, h.n), f64: make([][]float64, h.n),
			arrived: make([]bool, h.n), done: make(chan struct{})}
		h.cur = rd
	} else if rd.op != o {
		err := fmt.Errorf("comm: mismatched collectives: %s on rank %d, but %s on rank %d", o, c.rank, rd.op, rd.opRank)
		h.failLocked(err)
		h.mu.Unlock()
		return nil, nil, err
	}
	rd.f32[c.rank], rd.f64[c.rank], rd.arrived[c.rank] = f32, f64, true
	rd.count++
	if rd.count == h.n {
		h.cur = nil
		h.mu.Unlock()
		switch {
		case o.kind == kindBarrier:
		case o.dtype == wireF64:
			rd.res64 = make([]float64, o.count)
			sumRanks(rd.res64, rd.f64)
		default:
			rd.res32 = make([]float32, o.count)
			sumRanks(rd.res32, rd.f32)
		}
		close(rd.done)
	} else {
		h.mu.Unlock()
	}

	timer := time.NewTimer(h.timeout)
	defer timer.Stop()
	select {
	case <-rd.done:
	case <-timer.C:
		h.mu.Lock()
		if h.cur == rd {
			var missing []int
			for r, ok := range rd.arrived {
				if !ok {
					missing = append(missing, r)
				}
			}
			h.failLocked(fmt.Errorf("comm: rank %d: %s: ranks %v did not arrive within %v", c.rank, o, missing, h.timeout))
		}
		h.mu.Unlock()
		<-rd.done
	}
	if rd.err != nil {
		return nil, nil, rd.err
	}
	return rd.res32, rd.res64, nil
}
