// Package gemm is the CPU backend's float32 matrix multiply.
//
// Sgemm follows the cblas row-major convention: every matrix is stored row
// by row with a leading dimension (the distance, in elements, between the
// starts of two consecutive rows), and transA/transB say that the stored
// matrix is the transpose of the operand.
//
// The fast path is a Goto/BLIS-style blocked algorithm: blocks of op(B)
// (KC×NC) and op(A) (MC×KC) are copied ("packed") into contiguous,
// 64-byte-aligned buffers laid out in the order a register-blocked
// micro-kernel reads them, and the micro-kernel computes one MR×NR tile of C
// with FMA instructions. All transpositions are absorbed by the packing, so
// the four transpose combinations run the same kernel. The micro-kernel is
// picked at start-up from the CPU's features: AVX-512 (12×32 tile), AVX2+FMA
// (6×16 tile), or portable Go (4×4 tile) on other architectures.
//
// Large products are split over SetThreads workers (default
// runtime.NumCPU()); small ones run on the calling goroutine. Sgemm does not
// allocate on its hot path: packing buffers are kept in a free list and
// reused.
//
// The sub-package openblas calls OpenBLAS's cblas_sgemm, loaded at run time,
// for comparison or as an alternative backend.
package gemm
