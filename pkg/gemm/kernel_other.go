//go:build !amd64

package gemm

// bestKernel returns the portable kernel: there is no assembly kernel for
// this architecture.
func bestKernel() *kernel { return genericKernel }

// availableKernels lists the kernels this machine can run, best first.
func availableKernels() []*kernel { return []*kernel{genericKernel} }
