package comm

import (
	"math"
	"testing"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
)

func TestSumDependsOnOrder(t *testing.T) {
	// The data the tests use is order-sensitive: a communicator adding in
	// another order than rank order would fail them.
	parts := [][]float32{randData(1, 4096), randData(2, 4096), randData(3, 4096)}
	if sameBits(seqSum(parts), revSum(parts)) < 0 {
		t.Fatal("rank-order and reverse-order sums agree: the test data cannot tell them apart")
	}
}

func TestLocalRankOrder(t *testing.T) {
	for _, n := range []int{1, 1000, 3*parallelMin + 17} {
		parts := [][]float32{randData(1, n), randData(2, n), randData(3, n)}
		want := seqSum(parts)
		var first [][]float32
		for run := range 3 {
			cs := NewLocal(3)
			// Ranks arrive in another order each run: 2, 1, 0 in the first.
			out := make([][]float32, 3)
			errs := onRanks(cs, func(c Comm) error {
				r := c.Rank()
				time.Sleep(time.Duration((2-r+run)%3) * 5 * time.Millisecond)
				buf := cpu.Wrap(append([]float32(nil), parts[r]...))
				err := c.AllReduceSum(cpu.New32(1), buf, n)
				out[r] = buf.D
				return err
			})
			for r := range 3 {
				if errs[r] != nil {
					t.Fatalf("n=%d rank %d: %v", n, r, errs[r])
				}
				if i := sameBits(out[r], want); i >= 0 {
					t.Fatalf("n=%d run %d rank %d: element %d is %v, the rank-order sum is %v", n, run, r, i, out[r][i], want[i])
				}
			}
			if run == 0 {
				first = out
			} else if sameBits(out[0], first[0]) >= 0 {
				t.Fatalf("n=%d: run %d differs from run 0", n, run)
			}
		}
	}
}

func TestLocalPartialBuffer(t *testing.T) {
	// Only the first n elements are reduced.
	cs := NewLocal(2)
	out := make([][]float32, 2)
	errs := onRanks(cs, func(c Comm) error {
		buf := cpu.Wrap([]float32{1, 2, 3, 4})
		err := c.AllReduceSum(cpu.New32(1), buf, 2)
		out[c.Rank()] = buf.D
		return err
	})
	for r := range 2 {
		if errs[r] != nil || sameBits(out[r], []float32{2, 4, 3, 4}) >= 0 {
			t.Errorf("rank %d: %v, %v", r, out[r], errs[r])
		}
	}
}

func TestLocalFloat64AndBarrier(t *testing.T) {
	cs := NewLocal(4)
	vals := [][]float64{{0.1, 1e16, 3}, {0.2, 1, 4}, {0.3, -1e16, 5}, {0.4, 1, 6}}
	want := make([]float64, 3)
	for i := range want {
		want[i] = ((vals[0][i] + vals[1][i]) + vals[2][i]) + vals[3][i]
	}
	out := make([][]float64, 4)
	errs := onRanks(cs, func(c Comm) error {
		v := append([]float64(nil), vals[c.Rank()]...)
		if err := c.AllReduceFloat64(v); err != nil {
			return err
		}
		out[c.Rank()] = v
		return c.Barrier()
	})
	for r := range 4 {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v", r, errs[r])
		}
		for i := range want {
			if math.Float64bits(out[r][i]) != math.Float64bits(want[i]) {
				t.Errorf("rank %d value %d: %v, want %v", r, i, out[r][i], want[i])
			}
		}
	}
	if want[1] != 1 { // 1e16 + 1 loses the 1; rank order then gives exactly 1
		t.Errorf("rank-order sum of the large values = %v", want[1])
	}
}

func TestLocalFloat64Buffers(t *testing.T) {
	cs := NewLocal(3)
	out := make([][]float64, 3)
	errs := onRanks(cs, func(c Comm) error {
		buf := cpu.Wrap([]float64{float64(c.Rank()) + 0.5, 1e-300})
		err := c.AllReduceSum(cpu.New64(1), buf, 2)
		out[c.Rank()] = buf.D
		return err
	})
	for r := range 3 {
		if errs[r] != nil || out[r][0] != 4.5 || out[r][1] != 3e-300 {
			t.Errorf("rank %d: %v, %v", r, out[r], errs[r])
		}
	}
}

func TestLocalDeviceBuffers(t *testing.T) {
	// Buffers that are not CPU buffers go through Download and Upload;
	// bf16 results are the float32 sum rounded once.
	cs := NewLocal(2)
	vals := [][]float32{{1, 1.0078125, 3}, {bf16(0.00390625), 1.0078125, 0}}
	out := make([][]float32, 2)
	errs := onRanks(cs, func(c Comm) error {
		b := &devBuf{d: append([]float32(nil), vals[c.Rank()]...), dt: backend.BF16}
		err := c.AllReduceSum(hostDev{}, b, 3)
		out[c.Rank()] = b.d
		return err
	})
	want := []float32{bf16(1 + 0.00390625), bf16(2.015625), 3}
	for r := range 2 {
		if errs[r] != nil || sameBits(out[r], want) >= 0 {
			t.Errorf("rank %d: %v, %v; want %v", r, out[r], errs[r], want)
		}
	}
	// A type the host path cannot reduce.
	c := NewLocal(1)[0]
	wantErr(t, "f64 device buffer", c.AllReduceSum(hostDev{}, &devBuf{d: make([]float32, 2), dt: backend.F64}, 2), "f64 buffer")
}

func TestLocalMismatch(t *testing.T) {
	cs := NewLocal(3)
	errs := onRanks(cs, func(c Comm) error {
		n := 10
		if c.Rank() == 1 {
			n = 12
		}
		return c.AllReduceSum(cpu.New32(1), cpu.Wrap(make([]float32, 12)), n)
	})
	for _, err := range errs {
		wantErr(t, "mismatched count", err, "mismatched collectives", "12 float32", "10 float32", "rank 1")
	}
	// The communicator stays broken.
	wantErr(t, "after a failure", cs[0].Barrier(), "unusable after an earlier failure")

	cs = NewLocal(2)
	errs = onRanks(cs, func(c Comm) error {
		if c.Rank() == 0 {
			return c.Barrier()
		}
		return c.AllReduceFloat64(make([]float64, 2))
	})
	for r, err := range errs {
		wantErr(t, "mismatched kind rank "+string(rune('0'+r)), err, "Barrier", "AllReduceFloat64 of 2 values")
	}
}

func TestLocalTimeoutAndClose(t *testing.T) {
	cs := NewLocalWith(3, Options{Timeout: 100 * time.Millisecond})
	start := time.Now()
	errs := onRanks(cs[:2], func(c Comm) error { return c.Barrier() })
	for _, err := range errs {
		wantErr(t, "rank 2 absent", err, "ranks [2] did not arrive within 100ms")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	cs = NewLocal(2)
	done := make(chan error)
	go func() { done <- cs[0].AllReduceFloat64([]float64{1}) }()
	time.Sleep(20 * time.Millisecond)
	cs[1].Close()
	wantErr(t, "rank 1 closed", <-done, "rank 1 closed the communicator")
	if err := cs[1].Barrier(); err != ErrClosed {
		t.Errorf("closed rank: %v", err)
	}
}

func TestLocalArguments(t *testing.T) {
	c := NewLocal(1)[0]
	wantErr(t, "n > len", c.AllReduceSum(cpu.New32(1), cpu.Wrap(make([]float32, 2)), 3), "3 elements of a buffer of 2")
	c = NewLocal(1)[0]
	wantErr(t, "nil", c.AllReduceSum(cpu.New32(1), nil, 0), "nil buffer")

	// A rank's bad call fails the others at once instead of leaving them
	// to time out.
	cs := NewLocal(2)
	errs := onRanks(cs, func(c Comm) error {
		n := 2
		if c.Rank() == 1 {
			time.Sleep(20 * time.Millisecond)
			n = 5
		}
		return c.AllReduceSum(cpu.New32(1), cpu.Wrap(make([]float32, 2)), n)
	})
	for _, err := range errs {
		wantErr(t, "bad call on rank 1", err, "rank 1", "5 elements of a buffer of 2")
	}
}

func TestSingle(t *testing.T) {
	s := Single()
	buf := cpu.Wrap([]float32{1, 2})
	if s.Rank() != 0 || s.Size() != 1 || s.LocalRank() != 0 {
		t.Fatal("single is not rank 0 of 1")
	}
	if err := s.AllReduceSum(cpu.New32(1), buf, 2); err != nil || buf.D[0] != 1 || buf.D[1] != 2 {
		t.Errorf("AllReduceSum: %v %v", buf.D, err)
	}
	v := []float64{3}
	if err := s.AllReduceFloat64(v); err != nil || v[0] != 3 {
		t.Errorf("AllReduceFloat64: %v %v", v, err)
	}
	wantErr(t, "n > len", s.AllReduceSum(cpu.New32(1), buf, 3), "3 elements of a buffer of 2")
	if s.Barrier() != nil || s.Close() != nil || s.Barrier() != ErrClosed {
		t.Error("barrier/close")
	}
}
