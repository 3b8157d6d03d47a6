package comm

import (
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
)

// randData returns n values of every magnitude from 1e-6 to 1e6 and both
// signs, so that adding them in another order changes low bits.
func randData(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((rng.Float64()*2 - 1) * math.Pow(10, rng.Float64()*12-6))
	}
	return v
}

// seqSum adds the ranks' values in rank order, the way every host
// communicator must: ((x₀+x₁)+x₂)+…
func seqSum(parts [][]float32) []float32 {
	out := make([]float32, len(parts[0]))
	for i := range out {
		s := parts[0][i]
		for _, p := range parts[1:] {
			s += p[i]
		}
		out[i] = s
	}
	return out
}

// revSum adds them in the opposite order.
func revSum(parts [][]float32) []float32 {
	out := make([]float32, len(parts[0]))
	for i := range out {
		s := parts[len(parts)-1][i]
		for r := len(parts) - 2; r >= 0; r-- {
			s += parts[r][i]
		}
		out[i] = s
	}
	return out
}

// sameBits reports the first index where a and b differ in bits (-1 if
// none).
func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// onRanks runs fn for every rank in its own goroutine and returns their
// errors.
func onRanks(cs []Comm, fn func(c Comm) error) []error {
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for r, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = fn(c)
		}()
	}
	wg.Wait()
	return errs
}

// reduceOn sums data[r] over the ranks of cs, each rank with its own CPU
// backend, and returns each rank's result.
func reduceOn(t *testing.T, cs []Comm, data [][]float32) [][]float32 {
	t.Helper()
	out := make([][]float32, len(cs))
	errs := onRanks(cs, func(c Comm) error {
		r := c.Rank()
		be := cpu.New32(1)
		buf := cpu.Wrap(append([]float32(nil), data[r]...))
		err := c.AllReduceSum(be, buf, len(data[r]))
		out[r] = buf.D
		return err
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return out
}

// startTCP starts n TCP ranks over loopback (rank 0 on a listener of a
// free port) and closes them at the end of the test.
func startTCP(t *testing.T, n int, o Options) []Comm {
	t.Helper()
	cs, errs := tryTCP(t, n, o, func(r int) (int, int, uint8) { return r, n, modeTCP })
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return cs
}

// tryTCP starts len ranks whose (rank, size, mode) come from who, and
// returns their communicators and errors.
func tryTCP(t *testing.T, n int, o Options, who func(i int) (rank, size int, mode uint8)) ([]Comm, []error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	cs := make([]Comm, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		rank, size, mode := who(i)
		oi := o
		if i == 0 {
			oi.Listener = ln
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := newTCP(rank, size, rank, addr, mode, oi)
			if c != nil {
				cs[i] = c
				t.Cleanup(func() { c.Close() })
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return cs, errs
}

// wantErr fails unless err is an error containing every one of subs.
func wantErr(t *testing.T, what string, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one containing %q", what, subs)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q does not contain %q", what, err, s)
		}
	}
}

// hostDev is a stand-in device backend: its buffers are not CPU buffers,
// so the host communicators go through Download and Upload, and bf16
// buffers round on upload as a GPU's do.
type hostDev struct{ backend.Backend }

type devBuf struct {
	d  []float32
	dt backend.DType
}

func (b *devBuf) Len() int             { return len(b.d) }
func (b *devBuf) DType() backend.DType { return b.dt }

func (hostDev) Name() string { return "hostdev" }

func (hostDev) Download(dst []float32, src backend.Buf) { copy(dst, src.(*devBuf).d) }

func (hostDev) Upload(dst backend.Buf, src []float32) {
	b := dst.(*devBuf)
	for i, v := range src {
		if b.dt == backend.BF16 {
			v = bf16(v)
		}
		b.d[i] = v
	}
}

// bf16 rounds to bfloat16 (nearest even), staying in float32.
func bf16(v float32) float32 {
	u := math.Float32bits(v)
	u += 0x7fff + (u>>16)&1
	return math.Float32frombits(u &^ 0xffff)
}
