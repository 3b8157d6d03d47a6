package comm

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
)

func TestTCPMatchesLocal(t *testing.T) {
	n := chunkBytes/4 + 12345 // more than one chunk on the wire
	parts := [][]float32{randData(11, n), randData(12, n), randData(13, n)}
	want := seqSum(parts)
	local := reduceOn(t, NewLocal(3), parts)
	cs := startTCP(t, 3, Options{})
	for run := range 2 {
		got := reduceOn(t, cs, parts)
		for r := range 3 {
			if i := sameBits(got[r], local[r]); i >= 0 {
				t.Fatalf("run %d rank %d: element %d is %v over TCP, %v on the local hub", run, r, i, got[r][i], local[r][i])
			}
			if i := sameBits(got[r], want); i >= 0 {
				t.Fatalf("run %d rank %d: element %d is %v, the rank-order sum is %v", run, r, i, got[r][i], want[i])
			}
		}
	}

	// Scalars, float64 buffers, device buffers and a barrier on the same
	// communicator.
	errs := onRanks(cs, func(c Comm) error {
		r := float64(c.Rank())
		v := []float64{r + 0.1, 1e16 * (1 - r), 1}
		if err := c.AllReduceFloat64(v); err != nil {
			return err
		}
		a, b, c2 := 0.1, 1.1, 2.1 // variables: constant arithmetic would be exact
		if v[0] != (a+b)+c2 || v[1] != 0 || v[2] != 3 {
			t.Errorf("rank %d: scalars %v", c.Rank(), v)
		}
		b64 := cpu.Wrap([]float64{r, 2, 7})
		if err := c.AllReduceSum(cpu.New64(1), b64, 2); err != nil {
			return err
		}
		if b64.D[0] != 3 || b64.D[1] != 6 || b64.D[2] != 7 {
			t.Errorf("rank %d: float64 buffer %v", c.Rank(), b64.D)
		}
		db := &devBuf{d: []float32{1.0078125, float32(r)}, dt: backend.BF16}
		if err := c.AllReduceSum(hostDev{}, db, 2); err != nil {
			return err
		}
		if db.d[0] != bf16(3*1.0078125) || db.d[1] != 3 {
			t.Errorf("rank %d: bf16 device buffer %v", c.Rank(), db.d)
		}
		if err := c.AllReduceSum(cpu.New32(1), cpu.Wrap[float32](nil), 0); err != nil {
			return err
		}
		return c.Barrier()
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

func TestTCPMismatch(t *testing.T) {
	cs := startTCP(t, 3, Options{})
	errs := onRanks(cs, func(c Comm) error {
		n := 1000
		if c.Rank() == 2 {
			n = 999
		}
		return c.AllReduceSum(cpu.New32(1), cpu.Wrap(make([]float32, 1000)), n)
	})
	for r, err := range errs {
		t.Logf("rank %d: %v", r, err)
		if r == 2 {
			// Rank 2 may see the abort, or the connection close under it.
			wantErr(t, "rank 2", err, "rank 2")
			continue
		}
		wantErr(t, "length mismatch", err, "mismatched collectives", "1000 float32", "999 float32 values (collective #0) on rank 2")
	}
	for _, c := range cs {
		wantErr(t, "later call", c.Barrier(), "unusable after an earlier failure", "rank")
	}

	cs = startTCP(t, 2, Options{})
	errs = onRanks(cs, func(c Comm) error {
		if c.Rank() == 0 {
			return c.AllReduceFloat64(make([]float64, 3))
		}
		return c.Barrier()
	})
	for _, err := range errs {
		wantErr(t, "kind mismatch", err, "AllReduceFloat64 of 3 values (collective #0) on rank 0, but Barrier")
	}
}

func TestTCPPeerDiesMidFrame(t *testing.T) {
	// Rank 2 is a raw connection: it joins, sends half of its values and
	// hangs up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	o := Options{Timeout: 20 * time.Second, ConnectTimeout: 10 * time.Second}
	const n = 100000
	errs := make(chan error, 3)
	var cs [2]Comm
	joined := make(chan int, 2)
	for r := range 2 {
		go func() {
			or := o
			if r == 0 {
				or.Listener = ln
			}
			c, err := NewTCP(r, 3, r, addr, or)
			if err != nil {
				errs <- err
				joined <- r
				return
			}
			cs[r] = c
			joined <- r
			errs <- c.AllReduceSum(cpu.New32(1), cpu.Wrap(randData(uint64(r), n)), n)
		}()
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(conn)
	if err := writeHello(p.w, hello{version: wireVersion, rank: 2, size: 3, local: 2, mode: modeTCP, host: "dying"}); err != nil {
		t.Fatal(err)
	}
	p.w.Flush()
	if h, err := readHeader(p.r); err != nil || h.kind != kindWelcome {
		t.Fatalf("welcome: %v %v", h, err)
	}
	<-joined
	<-joined
	writeHeader(p.w, header{kind: kindSum, dtype: wireF32, count: n})
	writeF32(p.w, make([]float32, n/2))
	p.w.Flush()
	time.Sleep(50 * time.Millisecond)
	conn.Close()
	start := time.Now()
	for range 2 {
		select {
		case err := <-errs:
			t.Log(err)
			wantErr(t, "peer died", err, "lost rank 2 (dying", "AllReduceSum of 100000 float32 values", "did it exit or crash?")
		case <-time.After(15 * time.Second):
			t.Fatal("a rank hangs after its peer died")
		}
	}
	t.Logf("errors after %v", time.Since(start))
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

func TestTCPTimeout(t *testing.T) {
	// Rank 2 never arrives: rank 0 gives up after the timeout and tells
	// rank 1 why.
	cs := startTCP(t, 3, Options{Timeout: 300 * time.Millisecond})
	start := time.Now()
	errs := onRanks(cs[:2], func(c Comm) error { return c.AllReduceFloat64([]float64{1}) })
	t.Logf("rank 0: %v\nrank 1: %v", errs[0], errs[1])
	wantErr(t, "rank 0", errs[0], "rank 2", "did not take part within 300ms")
	wantErr(t, "rank 1", errs[1], "failed", "rank 2", "did not take part within 300ms")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// Rank 2 arrives late, to a hub that has given up.
	wantErr(t, "rank 2", cs[2].Barrier(), "rank 2")
}

func TestTCPRank0Exits(t *testing.T) {
	cs := startTCP(t, 3, Options{})
	done := make(chan []error)
	go func() { done <- onRanks(cs[1:], func(c Comm) error { return c.Barrier() }) }()
	time.Sleep(50 * time.Millisecond)
	cs[0].Close()
	select {
	case errs := <-done:
		for _, err := range errs {
			wantErr(t, "rank 0 gone", err, "Barrier (collective #0)", "rank 0")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ranks hang after rank 0 closed")
	}
	if err := cs[0].Barrier(); err != ErrClosed {
		t.Errorf("closed: %v", err)
	}
}

func TestTCPRendezvousErrors(t *testing.T) {
	// Nobody listens.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	_, err := NewTCP(1, 2, 1, addr, Options{ConnectTimeout: 400 * time.Millisecond})
	wantErr(t, "no rank 0", err, "rank 1 could not join rank 0 at "+addr+" within 400ms", "connection refused")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %v", d)
	}

	// Nobody comes.
	_, errs := tryTCP(t, 1, Options{ConnectTimeout: 300 * time.Millisecond}, func(int) (int, int, uint8) { return 0, 3, modeTCP })
	wantErr(t, "no peers", errs[0], "rank 0 waited 300ms", "ranks [1 2] of 3")

	// Two processes claim rank 1.
	_, errs = tryTCP(t, 3, Options{}, func(i int) (int, int, uint8) { return min(i, 1), 3, modeTCP })
	for _, err := range errs {
		wantErr(t, "duplicate rank", err, "two processes claim rank 1")
	}

	// World sizes differ.
	_, errs = tryTCP(t, 2, Options{}, func(i int) (int, int, uint8) { return i, 2 + i, modeTCP })
	for _, err := range errs {
		wantErr(t, "world size", err, "was started with world size 3, rank 0 with 2")
	}

	// One rank uses NCCL, the other TCP.
	_, errs = tryTCP(t, 2, Options{}, func(i int) (int, int, uint8) { return i, 2, modeTCP + uint8(i) })
	for _, err := range errs {
		wantErr(t, "mode", err, "uses NCCL and rank 0 uses TCP")
	}

	// The port is taken.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = NewTCP(0, 2, 0, busy.Addr().String(), Options{})
	wantErr(t, "port taken", err, "rank 0 cannot listen on "+busy.Addr().String(), "address already in use", "set MASTER_PORT")

	// Bad places.
	_, err = NewTCP(3, 3, 0, "127.0.0.1:1", Options{})
	wantErr(t, "rank ≥ size", err, "rank 3 of 3")
}

func TestTCPIgnoresStrayConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// Connections that are not ranks: one sends garbage, one says nothing.
	for _, msg := range []string{"GET / HTTP/1.0\r\n\r\n", ""} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte(msg))
	}
	o := Options{Listener: ln, ConnectTimeout: 10 * time.Second, Timeout: 10 * time.Second}
	res := make(chan error, 2)
	var c0, c1 Comm
	go func() { var err error; c0, err = NewTCP(0, 2, 0, addr, o); res <- err }()
	go func() {
		var err error
		c1, err = NewTCP(1, 2, 1, addr, Options{ConnectTimeout: 10 * time.Second})
		res <- err
	}()
	for range 2 {
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
	errs := onRanks([]Comm{c0, c1}, func(c Comm) error { return c.Barrier() })
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	c0.Close()
	c1.Close()
}

func TestTCPRetriesUntilRank0Listens(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	res := make(chan error, 1)
	go func() {
		c, err := NewTCP(1, 2, 1, addr, Options{ConnectTimeout: 10 * time.Second})
		if err == nil {
			err = c.Barrier()
			c.Close()
		}
		res <- err
	}()
	time.Sleep(300 * time.Millisecond) // rank 1 has been refused a few times
	c, err := NewTCP(0, 2, 0, addr, Options{ConnectTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Barrier(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.(interface{ String() string }).String(), "rank 0 of 2") {
		t.Errorf("String: %v", c)
	}
	c.Close()
}

// readLine reads one line from r with a deadline.
func readLine(t *testing.T, r *bufio.Reader, d time.Duration) string {
	t.Helper()
	line := make(chan string, 1)
	go func() { s, _ := r.ReadString('\n'); line <- s }()
	select {
	case s := <-line:
		return strings.TrimSpace(s)
	case <-time.After(d):
		t.Fatal("no line from the child process")
	}
	return ""
}
