package gemm

import "sync/atomic"

// microKernel computes one mr×nr tile of C from packed panels:
//
//	acc[i][j] = Σ_{p<kc} a[p*mr+i] · b[p*nr+j]
//	C[i*ldc+j] = alpha·acc[i][j]                 if beta == 0 (C is not read)
//	C[i*ldc+j] = alpha·acc[i][j] + beta·C[i*ldc+j] otherwise
//
// a points to kc·mr packed floats, b to kc·nr; c to a full mr×nr tile with
// row stride ldc (in elements). kc may be 0.
type microKernel func(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// edgeKernel is a microKernel for a tile of mr full rows and only
// 1 ≤ cols < nr columns, written straight to C (columns ≥ cols untouched).
type edgeKernel func(kc int, a, b, c *float32, ldc int, alpha, beta float32, cols int)

// kernel describes a micro-kernel and the cache blocking tuned for it.
type kernel struct {
	name   string
	mr, nr int         // register tile: mr rows × nr columns of C
	fn     microKernel // the tile routine
	edge   edgeKernel  // optional: partial-width tiles without a scratch copy
	mc     int         // rows of the packed A block (multiple of mr), sized for L2
	kc     int         // maximum depth of a packed block
	nc     int         // columns of the packed B block (multiple of nr)
}

// active is the kernel Sgemm uses; tests swap it to exercise every variant.
var active atomic.Pointer[kernel]

func init() { active.Store(bestKernel()) }

// currentKernel returns the kernel in use.
func currentKernel() *kernel { return active.Load() }

// KernelName reports which micro-kernel Sgemm uses on this machine
// ("avx512-12x32", "avx2-6x16" or "generic-4x4").
func KernelName() string { return currentKernel().name }

// genericKernel is the portable Go micro-kernel, available everywhere.
var genericKernel = &kernel{name: "generic-4x4", mr: 4, nr: 4, fn: kernelGeneric4x4, mc: 128, kc: 256, nc: 1024}
