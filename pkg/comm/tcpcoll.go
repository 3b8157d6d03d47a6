package comm

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/smt-go/smt/pkg/backend"
)

func (c *tcpComm) Rank() int      { return c.rank }
func (c *tcpComm) Size() int      { return c.size }
func (c *tcpComm) LocalRank() int { return c.local }
func (c *tcpComm) String() string {
	return fmt.Sprintf("%s (rank %d of %d, hub %s)", modeName(c.mode), c.rank, c.size, c.addr)
}

// AllReduceSum implements Comm.
func (c *tcpComm) AllReduceSum(be backend.Backend, buf backend.Buf, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	v, err := hostView(be, buf, n)
	if err != nil {
		return c.fail(fmt.Errorf("comm: rank %d: %w", c.rank, err))
	}
	o := op{kind: kindSum, dtype: wireF32, count: uint64(n)}
	if v.f64 != nil {
		o.dtype = wireF64
	}
	if err := c.sum(o, v.f32, v.f64); err != nil {
		return err
	}
	if v.put != nil {
		v.put()
	}
	return nil
}

// AllReduceFloat64 implements Comm.
func (c *tcpComm) AllReduceFloat64(v []float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	return c.sum(op{kind: kindScalars, dtype: wireF64, count: uint64(len(v))}, nil, v)
}

// Barrier implements Comm.
func (c *tcpComm) Barrier() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	return c.exchange(op{kind: kindBarrier}, nil, nil, nil)
}

// Close implements Comm: it closes the connections (a rank still waiting
// in a collective then gets an error).
func (c *tcpComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.closeConns()
	}
	return nil
}

// usable returns why no collective can run (nil when one can). c.mu is
// held.
func (c *tcpComm) usable() error {
	if c.closed {
		return ErrClosed
	}
	if c.err != nil {
		return fmt.Errorf("comm: rank %d: unusable after an earlier failure: %w", c.rank, c.err)
	}
	return nil
}

// fail breaks the communicator with err and returns it.
func (c *tcpComm) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	if c.rank != 0 {
		c.closeConns() // rank 0 sees this rank leave and tells the others
	}
	return err
}

// sum runs a sum collective over f32 (or f64) in place.
func (c *tcpComm) sum(o op, f32 []float32, f64 []float64) error {
	if c.rank == 0 {
		// Rank 0's values are the accumulator: each rank's values are
		// added in rank order as they are read.
		take := func(r io.Reader) error {
			if f64 != nil {
				return readF64(r, f64, true)
			}
			return readF32(r, f32, true)
		}
		put := func(w io.Writer) error {
			if f64 != nil {
				return writeF64(w, f64)
			}
			return writeF32(w, f32)
		}
		return c.exchange(o, nil, take, put)
	}
	put := func(w io.Writer) error {
		if f64 != nil {
			return writeF64(w, f64)
		}
		return writeF32(w, f32)
	}
	take := func(r io.Reader) error {
		if f64 != nil {
			return readF64(r, f64, false)
		}
		return readF32(r, f32, false)
	}
	return c.exchange(o, put, take, nil)
}

// bcast copies rank 0's b into every rank's b (all of the same length).
func (c *tcpComm) bcast(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	o := op{kind: kindBcast, count: uint64(len(b))}
	if c.rank == 0 {
		return c.exchange(o, nil, nil, func(w io.Writer) error { _, err := w.Write(b); return err })
	}
	return c.exchange(o, nil, func(r io.Reader) error { _, err := io.ReadFull(r, b); return err }, nil)
}

// check makes sure every rank runs o (an NCCL all-reduce's count and type)
// before any of them hands it to NCCL, which would hang or corrupt on a
// mismatch.
func (c *tcpComm) check(o op) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(); err != nil {
		return err
	}
	return c.exchange(o, nil, nil, nil)
}

// exchange runs one collective, numbered by c.seq. The other ranks send
// a request frame (payload from send) and read rank 0's answer (payload
// into recv); rank 0 reads every request in rank order (payloads into
// recv) and then answers every rank (payload from result). Any error
// breaks the communicator. c.mu is held.
func (c *tcpComm) exchange(o op, send func(io.Writer) error, recv func(io.Reader) error, result func(io.Writer) error) error {
	o.seq = c.seq
	c.seq++
	if c.size == 1 {
		return nil
	}
	if c.rank == 0 {
		if err := c.gather(o, recv); err != nil {
			c.abort(err)
			return c.fail(err)
		}
		if err := c.scatter(o, result); err != nil {
			c.abort(err)
			return c.fail(err)
		}
		return nil
	}
	if err := c.request(o, send, recv); err != nil {
		return c.fail(err)
	}
	return nil
}

// gather is rank 0's half of a collective: read each rank's request, in
// rank order, with its payload.
func (c *tcpComm) gather(o op, recv func(io.Reader) error) error {
	deadline := time.Now().Add(c.timeout)
	for r := 1; r < c.size; r++ {
		p := c.peers[r]
		_ = p.conn.SetReadDeadline(deadline)
		h, err := readHeader(p.r)
		if err != nil {
			return c.peerErr(o, p, err)
		}
		if h.op() != o {
			return fmt.Errorf("comm: mismatched collectives: %s on rank 0, but %s on rank %d", o, h.op(), r)
		}
		if recv != nil {
			if err := recv(p.r); err != nil {
				return c.peerErr(o, p, err)
			}
		}
	}
	return nil
}

// scatter is rank 0's answer: the result frame to every rank at once.
func (c *tcpComm) scatter(o op, result func(io.Writer) error) error {
	deadline := time.Now().Add(c.timeout)
	errs := make([]error, c.size)
	var wg sync.WaitGroup
	for r := 1; r < c.size; r++ {
		p := c.peers[r]
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.conn.SetWriteDeadline(deadline)
			h := headerOf(o)
			h.kind = kindResult
			err := writeHeader(p.w, h)
			if err == nil && result != nil {
				err = result(p.w)
			}
			if err == nil {
				err = p.w.Flush()
			}
			if err != nil {
				errs[r] = c.peerErr(o, p, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// abort tells every rank that the collective failed with err, then closes
// the connections (after the message, so that it arrives).
func (c *tcpComm) abort(err error) {
	var wg sync.WaitGroup
	for _, p := range c.peers {
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.conn.SetDeadline(time.Now().Add(abortWait))
			if writeMessage(p.w, kindAbort, err.Error()) == nil && p.w.Flush() == nil {
				// Half-close and read until the rank hangs up: closing with
				// its unread payload pending would reset the connection and
				// could destroy the message.
				if cw, ok := p.conn.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
					_, _ = io.Copy(io.Discard, p.r)
				}
			}
			p.conn.Close()
		}()
	}
	wg.Wait()
}

// peerErr describes rank 0's failure to talk to p.
func (c *tcpComm) peerErr(o op, p *peer, err error) error {
	switch {
	case timedOut(err):
		return fmt.Errorf("comm: rank 0: %s: %s did not take part within %v (stuck or much slower than the others? SMT_COMM_TIMEOUT sets the wait): %w", o, p, c.timeout, err)
	case lostConn(err):
		return fmt.Errorf("comm: rank 0: %s: lost %s: %w (did it exit or crash?)", o, p, err)
	case errors.Is(err, errBadMagic):
		return fmt.Errorf("comm: rank 0: %s: %s sent garbage: %w", o, p, err)
	}
	return fmt.Errorf("comm: rank 0: %s: %s: %w", o, p, err)
}

// grace is how much longer than rank 0 the other ranks wait in a
// collective, so that rank 0, which sees every rank, is the one that
// reports a missing rank.
func grace(t time.Duration) time.Duration { return min(t/4, 30*time.Second) + time.Second }

// request is the half of a collective of a rank other than 0: send the
// request while reading the answer (rank 0 may abort before reading it
// all).
func (c *tcpComm) request(o op, send func(io.Writer) error, recv func(io.Reader) error) error {
	p := c.hub
	_ = p.conn.SetDeadline(time.Now().Add(c.timeout + grace(c.timeout)))
	sent := make(chan error, 1)
	go func() {
		err := writeHeader(p.w, headerOf(o))
		if err == nil && send != nil {
			err = send(p.w)
		}
		if err == nil {
			err = p.w.Flush()
		}
		sent <- err
	}()
	h, err := readHeader(p.r)
	if err != nil {
		p.conn.Close() // stops the sender
		<-sent
		return c.hubErr(o, err)
	}
	switch h.kind {
	case kindAbort:
		msg, err := readMessage(p.r, h)
		p.conn.Close()
		<-sent
		if err != nil {
			return c.hubErr(o, err)
		}
		return fmt.Errorf("comm: rank %d: %s failed; rank 0 reports: %s", c.rank, o, strings.TrimPrefix(msg, "comm: "))
	case kindResult:
		// Rank 0 answers after reading the whole request: the sender is
		// done with the values that recv overwrites.
		if err := <-sent; err != nil {
			return c.hubErr(o, err)
		}
		if h.seq != o.seq || h.count != o.count {
			return fmt.Errorf("comm: rank %d: %s: rank 0 answered for %s", c.rank, o, h.op())
		}
		if recv != nil {
			if err := recv(p.r); err != nil {
				return c.hubErr(o, err)
			}
		}
		return nil
	}
	p.conn.Close()
	<-sent
	return fmt.Errorf("comm: rank %d: %s: unexpected frame kind %d from rank 0", c.rank, o, h.kind)
}

// hubErr describes a failure to talk to rank 0.
func (c *tcpComm) hubErr(o op, err error) error {
	switch {
	case timedOut(err):
		return fmt.Errorf("comm: rank %d: %s: no answer from rank 0 (%s) within %v: %w", c.rank, o, c.addr, c.timeout+grace(c.timeout), err)
	case lostConn(err):
		return fmt.Errorf("comm: rank %d: %s: lost rank 0 (%s): %w (did it exit or crash?)", c.rank, o, c.addr, err)
	}
	return fmt.Errorf("comm: rank %d: %s: rank 0 (%s): %w", c.rank, o, c.addr, err)
}
