// Package cpu is the CPU backend: every operation of backend.Backend in
// plain Go, parallel over cores. It is generic over the element type:
// float32 is the production backend (with the fast GEMM of package gemm),
// float64 is the slow, obviously-correct reference that gradient checks
// with finite differences run on.
package cpu

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/gemm"
)

// Float is the element type of a CPU backend.
type Float interface{ ~float32 | ~float64 }

// Buf is a CPU buffer: a Go slice.
type Buf[T Float] struct{ D []T }

// Len implements backend.Buf.
func (b *Buf[T]) Len() int { return len(b.D) }

// DType implements backend.Buf.
func (b *Buf[T]) DType() backend.DType { return dtypeOf[T]() }

func dtypeOf[T Float]() backend.DType {
	var z T
	if any(z) == any(float32(0)) {
		return backend.F32
	}
	return backend.F64
}

// Backend is the CPU backend for element type T.
type Backend[T Float] struct {
	threads int

	mu      sync.Mutex
	scratch [2][]float32 // grow-only work buffers of the float32 attention
}

// scratchBuf returns work buffer i with at least n values, kept between
// calls so that the hot path does not allocate (contents undefined).
func (be *Backend[T]) scratchBuf(i, n int) []float32 {
	be.mu.Lock()
	defer be.mu.Unlock()
	if cap(be.scratch[i]) < n {
		be.scratch[i] = make([]float32, n)
	}
	return be.scratch[i][:n]
}

// New32 returns the float32 CPU backend using threads cores (0: all).
func New32(threads int) *Backend[float32] { return newBackend[float32](threads) }

// New64 returns the float64 reference backend using threads cores (0: all).
func New64(threads int) *Backend[float64] { return newBackend[float64](threads) }

func newBackend[T Float](threads int) *Backend[T] {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	setGemmThreads(threads)
	return &Backend[T]{threads: threads}
}

// Wrap makes a backend buffer that shares the memory of s.
func Wrap[T Float](s []T) *Buf[T] { return &Buf[T]{D: s} }

// Data returns the slice behind a CPU buffer (nil for a nil buffer).
func Data[T Float](b backend.Buf) []T {
	if b == nil {
		return nil
	}
	return b.(*Buf[T]).D
}

// Name implements backend.Backend.
func (be *Backend[T]) Name() string {
	g := "go " + gemm.KernelName()
	if blas != nil {
		g = "OpenBLAS " + blas.CoreName
	}
	return fmt.Sprintf("cpu (%s, %d threads, GEMM %s)", dtypeOf[T](), be.threads, g)
}

// DType implements backend.Backend.
func (be *Backend[T]) DType() backend.DType { return dtypeOf[T]() }

// Alloc implements backend.Backend. CPU buffers always hold T, whatever dt.
func (be *Backend[T]) Alloc(dt backend.DType, n int) backend.Buf {
	return &Buf[T]{D: make([]T, n)}
}

// Slice implements backend.Backend.
func (be *Backend[T]) Slice(b backend.Buf, off, n int) backend.Buf {
	d := Data[T](b)
	if off < 0 || n < 0 || off+n > len(d) {
		panic(fmt.Sprintf("cpu: slice [%d:%d] of a buffer of %d", off, off+n, len(d)))
	}
	return &Buf[T]{D: d[off : off+n : off+n]}
}

// Free implements backend.Backend.
func (be *Backend[T]) Free(backend.Buf) {}

// Sync implements backend.Backend.
func (be *Backend[T]) Sync() {}

// Upload implements backend.Backend.
func (be *Backend[T]) Upload(dst backend.Buf, src []float32) {
	d := Data[T](dst)
	if len(src) > len(d) {
		panic(fmt.Sprintf("cpu: upload of %d values into %d", len(src), len(d)))
	}
	for i, v := range src {
		d[i] = T(v)
	}
}

// Download implements backend.Backend.
func (be *Backend[T]) Download(dst []float32, src backend.Buf) {
	s := Data[T](src)
	if len(dst) > len(s) {
		panic(fmt.Sprintf("cpu: download of %d values from %d", len(dst), len(s)))
	}
	for i := range dst {
		dst[i] = float32(s[i])
	}
}

// Zero implements backend.Backend.
func (be *Backend[T]) Zero(b backend.Buf) { clear(Data[T](b)) }

// Copy2D implements backend.Backend.
func (be *Backend[T]) Copy2D(dst backend.Buf, dstStride int, src backend.Buf, srcStride int, rows, cols int) {
	d, s := Data[T](dst), Data[T](src)
	for r := 0; r < rows; r++ {
		copy(d[r*dstStride:r*dstStride+cols], s[r*srcStride:r*srcStride+cols])
	}
}

// parFor runs fn over [0, n) split into contiguous chunks, one per worker.
// work is a rough count of scalar operations per item; small jobs run on
// the calling goroutine.
func (be *Backend[T]) parFor(n, work int, fn func(lo, hi int)) {
	workers := be.threads
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*work < 1<<15 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		if w == workers-1 {
			fn(lo, hi)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
