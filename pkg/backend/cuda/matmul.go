package cuda

import (
	"fmt"

	"github.com/smt-go/smt/pkg/backend"
	cu "github.com/smt-go/smt/pkg/cuda"
)

// cudaType maps a buffer type to cuBLAS's.
func cudaType(dt backend.DType) cu.DataType {
	switch dt {
	case backend.F32:
		return cu.R32F
	case backend.BF16:
		return cu.R16BF
	case backend.F16:
		return cu.R16F
	}
	panic(fmt.Sprintf("cuda backend: no cuBLAS type for %s", dt))
}

// gemmTypesOK reports whether cublasGemmEx takes these types with fp32
// compute: A and B alike, C alike or fp32.
func gemmTypesOK(a, b, c backend.DType) bool {
	return a == b && (c == a || c == backend.F32)
}

// rowMajor fills g with the column-major GEMM that computes the row-major
// C = alpha·op(A)·op(B) + beta·C: a row-major matrix is the transpose of
// the same memory read column-major, so C is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ,
// swapping the operands and the m, n sizes and keeping each operand's
// transpose flag.
func rowMajor(g *cu.Gemm, transA, transB bool, m, n, k int, alpha float32, a cu.DevicePtr, at backend.DType, lda int,
	b cu.DevicePtr, bt backend.DType, ldb int, beta float32, c cu.DevicePtr, ct backend.DType, ldc int) {
	op := func(t bool) cu.Op {
		if t {
			return cu.OpT
		}
		return cu.OpN
	}
	*g = cu.Gemm{
		TransA: op(transB), TransB: op(transA), M: n, N: m, K: k, Alpha: alpha, Beta: beta,
		A: b, AType: cudaType(bt), LDA: ldb,
		B: a, BType: cudaType(at), LDB: lda,
		C: c, CType: cudaType(ct), LDC: ldc,
		Compute: cu.Compute32F, Algo: cu.GemmDefault,
	}
}

// checkMatrix panics unless b holds a rows×cols matrix with leading
// dimension ld.
func checkMatrix(op, what string, b *Buf, rows, cols, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if b == nil {
		panic(fmt.Sprintf("cuda backend: %s: %s is nil", op, what))
	}
	if ld < cols || b.n < (rows-1)*ld+cols {
		panic(fmt.Sprintf("cuda backend: %s %s: %d×%d with ld %d needs %d values, have %d", op, what, rows, cols, ld, (rows-1)*ld+cols, b.n))
	}
}

// MatMul implements backend.Backend with one cublasGemmEx call (fp32
// compute). Type combinations cuBLAS lacks (A and B of different types,
// or an fp32 product into a bf16 C) go through fp32 copies in scratch.
func (be *Backend) MatMul(transA, transB bool, m, n, k int, alpha float32, a backend.Buf, lda int, b backend.Buf, ldb int, beta float32, c backend.Buf, ldc int) {
	A, B, C := buf(a), buf(b), buf(c)
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("MatMul", "A", A, ar, ac, lda)
	checkMatrix("MatMul", "B", B, br, bc, ldb)
	checkMatrix("MatMul", "C", C, m, n, ldc)
	be.enter()
	defer be.exit()
	var g cu.Gemm
	if k == 0 || gemmTypesOK(A.dt, B.dt, C.dt) {
		at, bt := A.dt, B.dt
		if k == 0 { // C = beta·C; any types do
			at, bt = C.dt, C.dt
		}
		rowMajor(&g, transA, transB, m, n, k, alpha, A.ptr, at, lda, B.ptr, bt, ldb, beta, C.ptr, C.dt, ldc)
		be.must("MatMul", be.h.GemmEx(&g))
		return
	}
	// Slow path: fp32 copies of the operands that need one.
	a32, b32 := be.f32Copy(A, ar*lda), be.f32Copy(B, br*ldb)
	c32 := C
	if C.dt != backend.F32 {
		c32 = be.f32Copy(C, m*ldc)
	}
	rowMajor(&g, transA, transB, m, n, k, alpha, a32.ptr, backend.F32, lda, b32.ptr, backend.F32, ldb, beta, c32.ptr, backend.F32, ldc)
	be.must("MatMul", be.h.GemmEx(&g))
	if c32 != C {
		be.args.Reset().Ptr(C.ptr).Ptr(c32.ptr).I32(dts(C, c32)).I64(int64((m-1)*ldc + n))
		be.elementwise("MatMul", "smt_cast", (m-1)*ldc+n)
	}
}

// f32Copy returns b as fp32 (b itself when it is fp32; else a converted
// copy of its first n elements in scratch).
func (be *Backend) f32Copy(b *Buf, n int) *Buf {
	n = min(n, b.n)
	if b.dt == backend.F32 {
		return b
	}
	p := be.arena.take(4 * n)
	out := &Buf{ptr: p, n: n, dt: backend.F32}
	be.args.Reset().Ptr(p).Ptr(b.ptr).I32(dts(out, b)).I64(int64(n))
	be.elementwise("MatMul", "smt_cast", n)
	return out
}

// BlockGrad implements backend.Backend with one cublasGemmBatchedEx call:
// the pointer arrays address block i's slices of dY and X in place (leading
// dimensions ldy and ldx) and its S×S output, and the GEMM is the
// row-major dst[i] = beta·dst[i] + dY[:, r:+S]ᵀ·X[:, c:+S] (see rowMajor:
// cuBLAS computes dst[i]ᵀ = X[:, c:+S]ᵀ·dY[:, r:+S], column-major, op N on
// X and op T on dY).
func (be *Backend) BlockGrad(dst backend.Buf, beta float32, dy backend.Buf, ldy int, x backend.Buf, ldx int, N int, t backend.BlockTable, xcol []int32) {
	d, dys, xs := buf(dst), buf(dy), buf(x)
	k, S := t.Len(), t.Size
	if k == 0 {
		return
	}
	if len(xcol) < k || len(t.Cols) != k {
		panic(fmt.Sprintf("cuda backend: BlockGrad: %d blocks, %d columns, %d input offsets", k, len(t.Cols), len(xcol)))
	}
	need("BlockGrad", "dst", d, k*S*S)
	if dys.dt != xs.dt || !gemmTypesOK(dys.dt, xs.dt, d.dt) {
		panic(fmt.Sprintf("cuda backend: BlockGrad: dY %s, X %s into %s is not a cuBLAS type combination", dys.dt, xs.dt, d.dt))
	}
	if N == 0 {
		if beta != 1 {
			be.Scale(d, beta, k*S*S)
		}
		return
	}
	ptrs := make([]uint64, 3*k)
	esx, esy, esd := uint64(xs.dt.Size()), uint64(dys.dt.Size()), uint64(d.dt.Size())
	for i := 0; i < k; i++ {
		r, c := int(t.Rows[i])*S, int(xcol[i])
		if r < 0 || c < 0 || r+S > ldy || c+S > ldx {
			panic(fmt.Sprintf("cuda backend: BlockGrad: block %d reads dY columns [%d, %d) of %d and X columns [%d, %d) of %d", i, r, r+S, ldy, c, c+S, ldx))
		}
		ptrs[i] = uint64(xs.ptr) + uint64(c)*esx
		ptrs[k+i] = uint64(dys.ptr) + uint64(r)*esy
		ptrs[2*k+i] = uint64(d.ptr) + uint64(i*S*S)*esd
	}
	need("BlockGrad", "dY", dys, (N-1)*ldy+S)
	need("BlockGrad", "X", xs, (N-1)*ldx+S)
	for i := 0; i < k; i++ {
		checkMatrix("BlockGrad", "dY", &Buf{n: dys.n - int(t.Rows[i])*S}, N, S, ldy)
		checkMatrix("BlockGrad", "X", &Buf{n: xs.n - int(xcol[i])}, N, S, ldx)
	}
	be.enter()
	defer be.exit()
	arr := be.putU64("BlockGrad", ptrs)
	g := cu.Gemm{
		TransA: cu.OpN, TransB: cu.OpT, M: S, N: S, K: N, Alpha: 1, Beta: beta,
		A: arr, AType: cudaType(xs.dt), LDA: ldx,
		B: arr + cu.DevicePtr(8*k), BType: cudaType(dys.dt), LDB: ldy,
		C: arr + cu.DevicePtr(16*k), CType: cudaType(d.dt), LDC: S,
		Compute: cu.Compute32F, Algo: cu.GemmDefault,
	}
	be.must("BlockGrad", be.h.GemmBatchedEx(&g, k))
}
