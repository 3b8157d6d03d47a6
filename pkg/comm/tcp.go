package comm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Modes a rank announces in its hello: every rank of a job must use the
// same.
const (
	modeTCP  uint8 = 1
	modeNCCL uint8 = 2
)

func modeName(m uint8) string {
	switch m {
	case modeTCP:
		return "TCP"
	case modeNCCL:
		return "NCCL"
	}
	return fmt.Sprintf("mode %d", m)
}

// helloTimeout bounds how long rank 0 waits for the hello of a connection
// (a stray connection must not hold up the rendezvous).
const helloTimeout = 10 * time.Second

// abortWait bounds how long rank 0 spends telling a rank that a
// collective failed.
const abortWait = 2 * time.Second

// NewTCP joins a communicator of size ranks over TCP as rank (localRank
// on its machine). Rank 0 listens on addr ("host:port", MASTER_ADDR and
// MASTER_PORT; on every interface unless host is a loopback address, or on
// o.Listener), and the others connect to it, retrying with backoff until
// o.ConnectTimeout. NewTCP returns once every rank has joined.
//
// Rank 0 is the hub of every collective: it reads each rank's values in
// rank order, adds them to its own as they arrive (so the sum is
// ((x₀+x₁)+x₂)+…, the same bits as NewLocal), and sends the sum back to
// every rank. It moves 2·(size−1) times the buffer per reduction: right
// for CPU training and small trained sets; GPUs use NewNCCL.
func NewTCP(rank, size, localRank int, addr string, o Options) (Comm, error) {
	c, err := newTCP(rank, size, localRank, addr, modeTCP, o)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// tcpComm is a TCP communicator, and the side channel of NCCL ones.
type tcpComm struct {
	rank, size, local int
	addr              string
	mode              uint8
	timeout           time.Duration

	mu     sync.Mutex
	seq    uint64
	peers  []*peer // rank 0: peers[r] for 1 ≤ r < size
	hub    *peer   // other ranks: the connection to rank 0
	err    error   // the failure that broke the communicator
	closed bool
}

// peer is one connection.
type peer struct {
	rank int
	host string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func newPeer(conn net.Conn) *peer {
	return &peer{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriterSize(conn, 64<<10)}
}

func (p *peer) String() string {
	if p.host != "" {
		return fmt.Sprintf("rank %d (%s, %s)", p.rank, p.host, p.conn.RemoteAddr())
	}
	return fmt.Sprintf("rank %d (%s)", p.rank, p.conn.RemoteAddr())
}

func newTCP(rank, size, localRank int, addr string, mode uint8, o Options) (*tcpComm, error) {
	if size < 1 || rank < 0 || rank >= size || localRank < 0 {
		if o.Listener != nil {
			o.Listener.Close()
		}
		return nil, fmt.Errorf("comm: rank %d of %d (local rank %d) is not a valid place in a communicator", rank, size, localRank)
	}
	c := &tcpComm{rank: rank, size: size, local: localRank, addr: addr, mode: mode, timeout: o.timeout()}
	switch {
	case size == 1:
		if o.Listener != nil {
			o.Listener.Close()
		}
		return c, nil
	case rank == 0:
		ln, err := listen(addr, o)
		if err != nil {
			return nil, err
		}
		if err := c.acceptAll(ln, o.connectTimeout()); err != nil {
			return nil, err
		}
	default:
		if err := c.join(addr, o.connectTimeout()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// listen opens rank 0's listener.
func listen(addr string, o Options) (net.Listener, error) {
	if o.Listener != nil {
		return o.Listener, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("comm: rank 0: address %q: %w", addr, err)
	}
	bind := net.JoinHostPort("", port)
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		bind = addr
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("comm: rank 0 cannot listen on %s for the other ranks: %w (is another job using port %s? set MASTER_PORT)", bind, err, port)
	}
	return ln, nil
}

// acceptAll is rank 0's rendezvous: it accepts connections until every
// other rank has sent a valid hello, then welcomes them all.
func (c *tcpComm) acceptAll(ln net.Listener, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	type arrival struct {
		p   *peer
		h   hello
		err error
	}
	stop := make(chan struct{})
	defer close(stop)
	arrivals := make(chan arrival)
	acceptErr := make(chan error, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			go func() {
				p := newPeer(conn)
				_ = conn.SetDeadline(earliest(deadline, time.Now().Add(helloTimeout)))
				h, err := readHello(p.r)
				select {
				case arrivals <- arrival{p, h, err}:
				case <-stop:
					conn.Close()
				}
			}()
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()

	c.peers = make([]*peer, c.size)
	fail := func(err error) error {
		ln.Close()
		var wg sync.WaitGroup
		for _, p := range c.peers {
			if p != nil {
				wg.Add(1)
				go func() { defer wg.Done(); reject(p, err.Error()) }()
			}
		}
		wg.Wait()
		c.peers = nil
		return err
	}
	for joined := 0; joined < c.size-1; {
		select {
		case a := <-arrivals:
			if a.err != nil {
				a.p.conn.Close() // not one of ours (a port scan, a stray client): ignore it
				continue
			}
			a.p.rank, a.p.host = int(a.h.rank), a.h.host
			if msg := c.checkHello(a.h, a.p); msg != "" {
				err := fmt.Errorf("comm: rank 0 at %s: %s", c.addr, msg)
				reject(a.p, err.Error())
				return fail(err)
			}
			c.peers[a.h.rank] = a.p
			joined++
		case <-timer.C:
			return fail(fmt.Errorf("comm: rank 0 waited %v at %s for ranks %v of %d to connect; were they started, with the same MASTER_ADDR and MASTER_PORT? (SMT_COMM_CONNECT_TIMEOUT sets the wait)",
				timeout, c.addr, c.missing(), c.size))
		case err := <-acceptErr:
			return fail(fmt.Errorf("comm: rank 0: accepting connections at %s: %w", c.addr, err))
		}
	}
	ln.Close()
	var wg sync.WaitGroup
	errs := make([]error, c.size)
	for r, p := range c.peers[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.conn.SetDeadline(time.Now().Add(helloTimeout))
			err := writeHeader(p.w, header{kind: kindWelcome, count: uint64(c.size)})
			if err == nil {
				err = p.w.Flush()
			}
			if err == nil {
				err = p.conn.SetDeadline(time.Time{})
			}
			errs[r+1] = err
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			c.closeConns()
			return fmt.Errorf("comm: rank 0: welcoming %s: %w", c.peers[r], err)
		}
	}
	return nil
}

// checkHello says what is wrong with a rank's hello ("" if nothing).
func (c *tcpComm) checkHello(h hello, p *peer) string {
	switch {
	case h.version != wireVersion:
		return fmt.Sprintf("%s speaks protocol version %d, rank 0 speaks %d: run the same build on every rank", p, h.version, wireVersion)
	case int(h.size) != c.size:
		return fmt.Sprintf("%s was started with world size %d, rank 0 with %d", p, h.size, c.size)
	case h.rank == 0 || int(h.rank) >= c.size:
		return fmt.Sprintf("%s claims rank %d of %d, which rank 0 already is or which does not exist", p, h.rank, c.size)
	case c.peers[h.rank] != nil:
		return fmt.Sprintf("two processes claim rank %d: %s and %s (RANK must differ on every process)", h.rank, c.peers[h.rank], p)
	case h.mode != c.mode:
		return fmt.Sprintf("%s uses %s and rank 0 uses %s: every rank must use the same (SMT_COMM, or NCCL missing on some machines)", p, modeName(h.mode), modeName(c.mode))
	}
	return ""
}

// missing lists the ranks that have not joined.
func (c *tcpComm) missing() []int {
	var m []int
	for r := 1; r < c.size; r++ {
		if c.peers[r] == nil {
			m = append(m, r)
		}
	}
	return m
}

// reject tells a rank why the rendezvous failed and closes its connection.
func reject(p *peer, msg string) {
	_ = p.conn.SetDeadline(time.Now().Add(abortWait))
	if writeMessage(p.w, kindReject, msg) == nil {
		_ = p.w.Flush()
	}
	p.conn.Close()
}

// join is the rendezvous of the ranks other than 0: connect to rank 0,
// retrying with backoff, say hello and wait for the welcome.
func (c *tcpComm) join(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	host, _ := os.Hostname()
	h := hello{version: wireVersion, rank: uint32(c.rank), size: uint32(c.size), local: uint32(c.local), mode: c.mode, host: host}
	backoff := 50 * time.Millisecond
	var last error
	for {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return fmt.Errorf("comm: rank %d could not join rank 0 at %s within %v: %v; is rank 0 running, with the same MASTER_ADDR and MASTER_PORT? (SMT_COMM_CONNECT_TIMEOUT sets the wait)",
				c.rank, addr, timeout, last)
		}
		conn, err := net.DialTimeout("tcp", addr, min(remaining, helloTimeout))
		if err == nil {
			p := newPeer(conn)
			p.rank = 0
			fatal, err := c.handshake(p, h, deadline)
			if err == nil {
				c.hub = p
				return nil
			}
			conn.Close()
			if fatal {
				return err
			}
			last = err
		} else {
			last = err
		}
		time.Sleep(min(backoff, max(time.Until(deadline), 0)))
		backoff = min(2*backoff, time.Second)
	}
}

// handshake says hello on a new connection to rank 0 and waits for the
// welcome; fatal means rank 0 refused this rank (no point retrying).
func (c *tcpComm) handshake(p *peer, h hello, deadline time.Time) (fatal bool, err error) {
	_ = p.conn.SetDeadline(deadline)
	if err := writeHello(p.w, h); err != nil {
		return false, err
	}
	if err := p.w.Flush(); err != nil {
		return false, err
	}
	fh, err := readHeader(p.r)
	if err != nil {
		return false, fmt.Errorf("connected to %s, but no welcome came: %w", c.addr, err)
	}
	switch fh.kind {
	case kindWelcome:
		if int(fh.count) != c.size {
			return true, fmt.Errorf("comm: rank %d: rank 0 at %s runs a world of %d ranks, this rank %d", c.rank, c.addr, fh.count, c.size)
		}
		return false, p.conn.SetDeadline(time.Time{})
	case kindReject:
		msg, err := readMessage(p.r, fh)
		if err != nil {
			return false, err
		}
		return true, fmt.Errorf("comm: rank %d: the rendezvous failed: %s", c.rank, msg)
	}
	return false, fmt.Errorf("connected to %s, but it answered with frame kind %d", c.addr, fh.kind)
}

// closeConns closes every connection.
func (c *tcpComm) closeConns() {
	for _, p := range c.peers {
		if p != nil {
			p.conn.Close()
		}
	}
	if c.hub != nil {
		c.hub.conn.Close()
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// lostConn reports whether err means the other end went away.
func lostConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// timedOut reports whether err is a deadline expiring.
func timedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
