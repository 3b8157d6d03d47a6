package gemm

import "golang.org/x/sys/cpu"

// sgemmKernel12x32AVX512 is the AVX-512 micro-kernel (kernel_avx512_amd64.s).
//
//go:noescape
func sgemmKernel12x32AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel12xNAVX512 is the AVX-512 kernel for the right edge: 12 rows,
// 1 ≤ cols < 32 columns, written with masked stores
// (kernel_avx512_edge_amd64.s).
//
//go:noescape
func sgemmKernel12xNAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32, cols int)

// sgemmKernel6x16AVX2 is the AVX2+FMA micro-kernel (kernel_avx2_amd64.s).
//
//go:noescape
func sgemmKernel6x16AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

var (
	avx512Kernel = &kernel{name: "avx512-12x32", mr: 12, nr: 32, fn: sgemmKernel12x32AVX512, edge: sgemmKernel12xNAVX512, mc: 240, kc: 384, nc: 4096}
	avx2Kernel   = &kernel{name: "avx2-6x16", mr: 6, nr: 16, fn: sgemmKernel6x16AVX2, mc: 192, kc: 256, nc: 4096}
)

// hasAVX512 and hasAVX2 report the features the assembly kernels need
// (golang.org/x/sys/cpu also checks that the OS saves the vector state).
var (
	hasAVX512 = cpu.X86.HasAVX512F
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// availableKernels lists the kernels this machine can run, best first.
func availableKernels() []*kernel {
	var ks []*kernel
	if hasAVX512 {
		ks = append(ks, avx512Kernel)
	}
	if hasAVX2 {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, genericKernel)
}

// bestKernel returns the fastest kernel this machine can run.
func bestKernel() *kernel { return availableKernels()[0] }
