package comm

import (
	"bytes"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/cuda"
	"github.com/smt-go/smt/pkg/cuda/cudatest"
)

// These tests run NewNCCL and Open against the stand-in libcuda and
// libnccl of pkg/cuda/cudatest, which log every call's arguments: they
// check the unique-id exchange and the arguments of ncclAllReduce. Real
// reductions over several GPUs need real ones (pipelines/gpu-check.sh).

// standinDev is the Device a CUDA backend provides (OnStream), made
// directly from the stand-in driver: one stream per rank.
type standinDev struct {
	hostDev
	drv *cuda.Driver
	ctx *cuda.Context
	st  cuda.Stream
}

func (d *standinDev) OnStream(fn func(cuda.Stream) error) error {
	if err := d.ctx.Enter(); err != nil {
		return err
	}
	defer d.ctx.Exit()
	return fn(d.st)
}

// ptrBuf is a device buffer of the stand-in driver.
type ptrBuf struct {
	p  cuda.DevicePtr
	n  int
	dt backend.DType
}

func (b *ptrBuf) Len() int             { return b.n }
func (b *ptrBuf) DType() backend.DType { return b.dt }
func (b *ptrBuf) Ptr() cuda.DevicePtr  { return b.p }

func (d *standinDev) alloc(t *testing.T, dt backend.DType, n int) *ptrBuf {
	t.Helper()
	b := &ptrBuf{n: n, dt: dt}
	err := d.OnStream(func(cuda.Stream) error {
		var err error
		b.p, err = d.drv.MemAlloc(max(n*dt.Size(), 1))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// standin opens the stand-ins, NCCL and n devices.
func standin(t *testing.T, n int) (*cudatest.StandIn, *cuda.NCCL, []*standinDev) {
	t.Helper()
	s := cudatest.Open(t)
	drv, err := cuda.LoadDriver(s.Options())
	if err != nil {
		t.Fatal(err)
	}
	lib, err := cuda.LoadNCCL(s.Options())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := drv.Device(0)
	if err != nil {
		t.Fatal(err)
	}
	devs := make([]*standinDev, n)
	for r := range devs {
		ctx, err := dev.PrimaryContext()
		if err != nil {
			t.Fatal(err)
		}
		d := &standinDev{drv: drv, ctx: ctx}
		if err := d.OnStream(func(cuda.Stream) error { d.st, err = drv.StreamCreate(0); return err }); err != nil {
			t.Fatal(err)
		}
		devs[r] = d
	}
	s.Reset(t) // the log starts here
	return s, lib, devs
}

// startNCCL joins n NCCL ranks over loopback.
func startNCCL(t *testing.T, lib *cuda.NCCL, devs []*standinDev) ([]Comm, []error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := len(devs)
	cs := make([]Comm, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		o := Options{ConnectTimeout: 10 * time.Second, Timeout: 10 * time.Second}
		if r == 0 {
			o.Listener = ln
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs[r], errs[r] = NewNCCL(r, n, r, ln.Addr().String(), lib, devs[r], o)
		}()
	}
	wg.Wait()
	return cs, errs
}

func TestNCCLStandIn(t *testing.T) {
	s, lib, devs := standin(t, 3)
	cs, errs := startNCCL(t, lib, devs)
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	if c := s.Find(t, "ncclGetUniqueId"); len(c) != 1 {
		t.Errorf("ncclGetUniqueId called %d times, want once (on rank 0)", len(c))
	}
	inits := s.Find(t, "ncclCommInitRank")
	var ranks []int
	for _, c := range inits {
		// idok: the 128 bytes rank 0 got from ncclGetUniqueId arrived
		// intact on every rank, over TCP and then by value.
		if c.Int("idok") != 1 || c.Int("nranks") != 3 {
			t.Errorf("init: %s", c.Line)
		}
		ranks = append(ranks, int(c.Int("rank")))
	}
	sort.Ints(ranks)
	if len(ranks) != 3 || ranks[0] != 0 || ranks[1] != 1 || ranks[2] != 2 {
		t.Errorf("ncclCommInitRank ranks %v", ranks)
	}

	for _, tc := range []struct {
		dt   backend.DType
		n    int
		enum int64
	}{{backend.F32, 1000, 7}, {backend.BF16, 5, 9}, {backend.F16, 3, 6}} {
		s.Reset(t)
		bufs := make([]*ptrBuf, 3)
		for r := range bufs {
			bufs[r] = devs[r].alloc(t, tc.dt, tc.n+7)
		}
		errs := onRanks(cs, func(c Comm) error { return c.AllReduceSum(devs[c.Rank()], bufs[c.Rank()], tc.n) })
		for r, err := range errs {
			if err != nil {
				t.Fatalf("%s rank %d: %v", tc.dt, r, err)
			}
		}
		calls := s.Find(t, "ncclAllReduce")
		if len(calls) != 3 {
			t.Fatalf("%s: %d ncclAllReduce calls, want 3", tc.dt, len(calls))
		}
		seen := map[int]bool{}
		for _, c := range calls {
			r := -1
			for i, d := range devs {
				if c.Int("stream") == int64(d.st) {
					r = i
				}
			}
			if r < 0 || seen[r] {
				t.Fatalf("%s: call on an unknown or repeated stream: %s", tc.dt, c.Line)
			}
			seen[r] = true
			p := int64(bufs[r].p)
			if c.Int("send") != p || c.Int("recv") != p || c.Int("count") != int64(tc.n) || c.Int("datatype") != tc.enum ||
				c.Int("op") != 0 || c.Int("nranks") != 3 {
				t.Errorf("%s rank %d: %s (want send=recv=%#x count=%d datatype=%d op=0)", tc.dt, r, c.Line, p, tc.n, tc.enum)
			}
		}
	}

	// Scalars and barrier take the side channel, in rank order.
	errs = onRanks(cs, func(c Comm) error {
		v := []float64{float64(c.Rank()) + 0.25}
		if err := c.AllReduceFloat64(v); err != nil {
			return err
		}
		if v[0] != 3.75 {
			t.Errorf("rank %d: %v", c.Rank(), v)
		}
		return c.Barrier()
	})
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
	if !strings.Contains(cs[0].(interface{ String() string }).String(), "NCCL 22105 (rank 0 of 3") {
		t.Errorf("String: %v", cs[0])
	}

	s.Reset(t)
	for _, c := range cs {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}
	if n := len(s.Find(t, "ncclCommDestroy")); n != 3 {
		t.Errorf("%d ncclCommDestroy calls", n)
	}
	if p := s.Problems(t); len(p) > 0 {
		t.Errorf("stand-in problems: %v", p)
	}
}

func TestNCCLCountMismatch(t *testing.T) {
	// The side channel catches a mismatch before NCCL sees it (NCCL would
	// hang or corrupt memory).
	s, lib, devs := standin(t, 2)
	cs, errs := startNCCL(t, lib, devs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	defer cs[0].Close()
	defer cs[1].Close()
	errs = onRanks(cs, func(c Comm) error {
		return c.AllReduceSum(devs[c.Rank()], devs[c.Rank()].alloc(t, backend.F32, 20), 10+2*c.Rank())
	})
	for _, err := range errs {
		wantErr(t, "count mismatch", err, "mismatched collectives", "AllReduceSum of 10 f32 values (NCCL)", "AllReduceSum of 12 f32 values (NCCL) (collective #1) on rank 1")
	}
	if c := s.Find(t, "ncclAllReduce"); len(c) != 0 {
		t.Errorf("ncclAllReduce called despite the mismatch: %v", c)
	}
}

func TestNCCLErrors(t *testing.T) {
	s, lib, devs := standin(t, 1)
	d := devs[0]
	one := func() Comm {
		t.Helper()
		c, err := NewNCCL(0, 1, 0, "127.0.0.1:1", lib, d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	wantErr(t, "CPU buffer", one().AllReduceSum(cpu.New32(1), cpu.Wrap(make([]float32, 4)), 4), "NCCL reduces device buffers, not a *cpu.Buf[float32]")
	wantErr(t, "f64", one().AllReduceSum(d, d.alloc(t, backend.F64, 4), 4), "f64 buffer: f32, bf16 and f16 are supported")
	wantErr(t, "n > len", one().AllReduceSum(d, d.alloc(t, backend.F32, 4), 5), "5 elements of a buffer of 4")
	c := one()
	wantErr(t, "broken", c.AllReduceSum(d, nil, 0), "nil buffer")
	wantErr(t, "broken", c.AllReduceFloat64([]float64{1}), "unusable after an earlier failure")

	c = one()
	s.Fail(t, "nccl", "ncclAllReduce", 5)
	wantErr(t, "NCCL failure", c.AllReduceSum(d, d.alloc(t, backend.BF16, 8), 8),
		"AllReduceSum of 8 bf16 values", "ncclAllReduce(8 elements, type 9, op 0): ncclInvalidUsage")

	s.Fail(t, "nccl", "ncclCommInitRank", 2)
	_, err := NewNCCL(0, 1, 0, "127.0.0.1:1", lib, d, Options{})
	wantErr(t, "init failure", err, "rank 0 of 1", "ncclCommInitRank(1 ranks, rank 0)")

	s.Fail(t, "nccl", "ncclGetUniqueId", 2)
	_, err = NewNCCL(0, 1, 0, "127.0.0.1:1", lib, d, Options{})
	wantErr(t, "unique id failure", err, "ncclGetUniqueId")
}

func TestOpen(t *testing.T) {
	if c, err := Open(Env{Size: 1}, cpu.New32(1)); err != nil || c.Size() != 1 {
		t.Fatalf("single: %v %v", c, err)
	}
	s, _, devs := standin(t, 2)
	run := func(env Env, be func(r int) backend.Backend, o Options) ([]Comm, []error, string) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		env.MasterAddr, env.MasterPort = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
		env.Size, env.Launcher = 2, "env"
		var mu sync.Mutex
		var notice bytes.Buffer
		cs := make([]Comm, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for r := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, or := env, o
				e.Rank, e.LocalRank = r, r
				or.ConnectTimeout = 10 * time.Second
				or.Notice = writerFunc(func(p []byte) { mu.Lock(); notice.Write(p); mu.Unlock() })
				if r == 0 {
					or.Listener = ln
				}
				cs[r], errs[r] = OpenWith(e, be(r), or)
				if cs[r] != nil {
					t.Cleanup(func() { cs[r].Close() })
				}
			}()
		}
		wg.Wait()
		return cs, errs, notice.String()
	}
	dev := func(r int) backend.Backend { return devs[r] }
	host := func(int) backend.Backend { return cpu.New32(1) }

	// A device backend with NCCL: NCCL.
	cs, errs, notice := run(Env{}, dev, Options{NCCL: s.Options()})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, ok := cs[1].(*ncclComm); !ok || !strings.Contains(notice, "comm: rank 0 of 2 (local rank 0, env): NCCL 2.21.5") {
		t.Errorf("NCCL: %T, notice %q", cs[1], notice)
	}
	if len(s.Find(t, "ncclCommInitRank")) != 2 {
		t.Error("NCCL was not initialized on both ranks")
	}

	// A CPU backend: TCP, one line from rank 0.
	cs, errs, notice = run(Env{Notes: []string{"a note"}}, host, Options{NCCL: s.Options()})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, ok := cs[1].(*tcpComm); !ok || strings.Count(notice, "\n") != 1 || !strings.Contains(notice, "TCP, rank 0 at 127.0.0.1:") ||
		!strings.Contains(notice, "is not a CUDA device); a note") {
		t.Errorf("CPU: %T, notice %q", cs[1], notice)
	}
	if errs := onRanks(cs, func(c Comm) error { return c.Barrier() }); errs[0] != nil || errs[1] != nil {
		t.Error(errs)
	}

	// A device backend without NCCL: TCP, and every rank says why.
	empty := t.TempDir()
	cs, errs, notice = run(Env{}, dev, Options{NCCL: cuda.LoadOptions{Dirs: []string{empty}, OnlyDirs: true}})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, ok := cs[0].(*tcpComm); !ok || strings.Count(notice, "(NCCL: ") != 2 {
		t.Errorf("no NCCL: %T, notice %q", cs[0], notice)
	}

	// SMT_COMM=tcp on a device backend.
	cs, errs, notice = run(Env{Comm: "tcp"}, dev, Options{NCCL: s.Options()})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if _, ok := cs[0].(*tcpComm); !ok || !strings.Contains(notice, "(SMT_COMM=tcp)") {
		t.Errorf("SMT_COMM=tcp: %T, notice %q", cs[0], notice)
	}

	// SMT_COMM=nccl where NCCL cannot run.
	_, err := OpenWith(Env{Size: 2, Rank: 1, MasterAddr: "127.0.0.1", MasterPort: 1, Comm: "nccl"}, cpu.New32(1), Options{})
	wantErr(t, "SMT_COMM=nccl on the CPU", err, "SMT_COMM=nccl, but backend cpu")
}

type writerFunc func([]byte)

func (w writerFunc) Write(p []byte) (int, error) { w(p); return len(p), nil }
