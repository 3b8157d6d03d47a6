package comm

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
)

// float is an element type the host communicators reduce.
type float interface{ ~float32 | ~float64 }

// hostBuf is the first n values of a buffer in host memory: the buffer's
// own memory for CPU buffers, else a float32 copy that put writes back.
type hostBuf struct {
	f32 []float32
	f64 []float64
	put func()
}

// hostView gives the host communicators access to buf's first n values.
func hostView(be backend.Backend, buf backend.Buf, n int) (hostBuf, error) {
	if err := checkBuf(buf, n); err != nil {
		return hostBuf{}, err
	}
	switch b := buf.(type) {
	case *cpu.Buf[float32]:
		return hostBuf{f32: b.D[:n]}, nil
	case *cpu.Buf[float64]:
		return hostBuf{f64: b.D[:n]}, nil
	}
	if be == nil {
		return hostBuf{}, fmt.Errorf("comm: AllReduceSum of a %T needs its backend (be is nil)", buf)
	}
	switch buf.DType() {
	case backend.F32, backend.BF16, backend.F16:
	default:
		return hostBuf{}, fmt.Errorf("comm: AllReduceSum of a %s buffer of %s: only f32, bf16 and f16 device buffers are reduced", buf.DType(), be.Name())
	}
	data := make([]float32, n)
	be.Download(data, buf)
	return hostBuf{f32: data, put: func() { be.Upload(buf, data) }}, nil
}

// parallelMin is the number of elements below which sums run on one
// goroutine.
const parallelMin = 1 << 16

// sumRanks sets dst[i] = ((parts[0][i] + parts[1][i]) + parts[2][i]) + …:
// rank order, element by element, so the bits do not depend on how the
// elements are split over goroutines. dst may be parts[0].
func sumRanks[T float](dst []T, parts [][]T) {
	n := len(dst)
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin+1)
	if workers <= 1 {
		sumRange(dst, parts, 0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sumRange(dst, parts, lo, hi)
		}()
	}
	wg.Wait()
}

func sumRange[T float](dst []T, parts [][]T, lo, hi int) {
	if lo == hi {
		return
	}
	d := dst[lo:hi]
	if &parts[0][lo] != &dst[lo] {
		copy(d, parts[0][lo:hi])
	}
	for _, p := range parts[1:] {
		addInto(d, p[lo:hi])
	}
}

// addInto adds x to acc element by element.
func addInto[T float](acc, x []T) {
	x = x[:len(acc)]
	for i := range acc {
		acc[i] += x[i]
	}
}
