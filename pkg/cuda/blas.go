package cuda

import (
	"fmt"
	"unsafe"
)

// Op is a cuBLAS transpose operation (cublasOperation_t).
type Op int

// Transpose operations.
const (
	OpN Op = 0 // as stored
	OpT Op = 1 // transposed
)

// DataType is a cudaDataType.
type DataType int

// Data types.
const (
	R32F  DataType = 0
	R64F  DataType = 1
	R16F  DataType = 2
	R16BF DataType = 14
)

// ComputeType is a cublasComputeType_t.
type ComputeType int

// Compute types.
const (
	Compute16F         ComputeType = 64
	Compute32F         ComputeType = 68
	Compute32FPedantic ComputeType = 69
	Compute32FFast16BF ComputeType = 75
	Compute32FFastTF32 ComputeType = 77
	Compute64F         ComputeType = 70
)

// GemmDefault is CUBLAS_GEMM_DEFAULT, the heuristic algorithm choice.
const GemmDefault = -1

// Math modes (cublasMath_t) for SetMathMode.
const (
	MathDefault                           = 0
	MathPedantic                          = 2
	MathTF32TensorOp                      = 3
	MathDisallowReducedPrecisionReduction = 16
)

// BLAS is the loaded cuBLAS library (libcublas.so.13, .12 or .11).
// Matrices are column-major, as in cuBLAS itself.
type BLAS struct {
	lib     *library
	version int // e.g. 120402 (major·10000 + minor·100 + patch)

	create, destroy, setStream, setWorkspace, setMathMode uintptr
	getProperty, gemmEx, gemmStridedBatchedEx             uintptr
	gemmBatchedEx                                         uintptr
	statusName                                            func(int32) string
}

// LoadBLAS opens cuBLAS, preferring the newest version the driver
// supports: driverVersion (Driver.Version; 0 for any) bounds the major
// version (libcublas.so.13 needs a CUDA 13 driver). libcublasLt from the
// same directory is opened first.
func LoadBLAS(opts LoadOptions, driverVersion int) (*BLAS, error) {
	var sonames []string
	pre := map[string]string{}
	for _, major := range []int{13, 12, 11} {
		if driverVersion > 0 && major > driverVersion/1000 {
			continue
		}
		so := fmt.Sprintf("libcublas.so.%d", major)
		sonames = append(sonames, so)
		pre[so] = fmt.Sprintf("libcublasLt.so.%d", major)
	}
	if len(sonames) == 0 {
		return nil, fmt.Errorf("cuda: the driver supports CUDA %d.%d; cuBLAS needs CUDA 11 or newer", driverVersion/1000, driverVersion%1000/10)
	}
	lib, err := openLibrary("cuBLAS", sonames, pre, opts)
	if err != nil {
		return nil, err
	}
	b := &BLAS{lib: lib}
	var statusName uintptr
	syms := []symbol{
		{"cublasCreate_v2", &b.create, false},
		{"cublasDestroy_v2", &b.destroy, false},
		{"cublasSetStream_v2", &b.setStream, false},
		{"cublasSetWorkspace_v2", &b.setWorkspace, false},
		{"cublasSetMathMode", &b.setMathMode, false},
		{"cublasGetProperty", &b.getProperty, false},
		{"cublasGemmEx", &b.gemmEx, false},
		{"cublasGemmStridedBatchedEx", &b.gemmStridedBatchedEx, false},
		{"cublasGemmBatchedEx", &b.gemmBatchedEx, false},
		{"cublasGetStatusName", &statusName, true},
	}
	if err := lib.bind(syms); err != nil {
		return nil, err
	}
	if statusName != 0 {
		registerFunc(&b.statusName, statusName)
	}
	var v [3]int32
	for i := range v {
		if r := sysCall(b.getProperty, uintptr(i), uintptr(unsafe.Pointer(&v[i]))); r != 0 {
			return nil, b.err(r, "cublasGetProperty(%d)", i)
		}
	}
	b.version = int(v[0])*10000 + int(v[1])*100 + int(v[2])
	return b, nil
}

// Path is the file (or soname) cuBLAS was opened from.
func (b *BLAS) Path() string { return b.lib.path }

// Version is cuBLAS's version as major·10000 + minor·100 + patch.
func (b *BLAS) Version() int { return b.version }

func (b *BLAS) err(r uintptr, format string, args ...any) error {
	code := status(r)
	name := ""
	if b.statusName != nil {
		name = b.statusName(int32(code))
	}
	if name == "" {
		name = cublasStatusNames[code]
	}
	if name == "" {
		name = fmt.Sprintf("CUBLAS_STATUS_%d", code)
	}
	return &Error{Lib: "cublas", Call: fmt.Sprintf(format, args...), Code: code, Name: name}
}

// BLASHandle is a cuBLAS handle (cublasHandle_t), bound to the context
// current when it was created.
type BLASHandle struct {
	b *BLAS
	h uintptr
}

// Create makes a handle in the current context.
func (b *BLAS) Create() (*BLASHandle, error) {
	var h uintptr
	if r := sysCall(b.create, uintptr(unsafe.Pointer(&h))); r != 0 {
		return nil, b.err(r, "cublasCreate_v2")
	}
	return &BLASHandle{b: b, h: h}, nil
}

// Destroy releases the handle.
func (h *BLASHandle) Destroy() error {
	if r := sysCall(h.b.destroy, h.h); r != 0 {
		return h.b.err(r, "cublasDestroy_v2")
	}
	return nil
}

// SetStream makes the handle queue its work on s.
func (h *BLASHandle) SetStream(s Stream) error {
	if r := sysCall(h.b.setStream, h.h, uintptr(s)); r != 0 {
		return h.b.err(r, "cublasSetStream_v2")
	}
	return nil
}

// SetWorkspace gives the handle a device workspace of bytes at p (so that
// cuBLAS does not allocate its own per stream).
func (h *BLASHandle) SetWorkspace(p DevicePtr, bytes int) error {
	if r := sysCall(h.b.setWorkspace, h.h, uintptr(p), uintptr(bytes)); r != 0 {
		return h.b.err(r, "cublasSetWorkspace_v2(%#x, %d)", uint64(p), bytes)
	}
	return nil
}

// SetMathMode sets the math mode (Math constants, or-ed).
func (h *BLASHandle) SetMathMode(mode int) error {
	if r := sysCall(h.b.setMathMode, h.h, uintptr(mode)); r != 0 {
		return h.b.err(r, "cublasSetMathMode(%d)", mode)
	}
	return nil
}

// Gemm describes one column-major GEMM C = alpha·op(A)·op(B) + beta·C with
// op(A) m×k, op(B) k×n and C m×n, in the terms of cublasGemmEx. For the
// batched calls the Stride fields (elements) or the pointer arrays apply.
type Gemm struct {
	TransA, TransB Op
	M, N, K        int
	Alpha, Beta    float32 // host scalars (float, for 32-bit compute types)
	A, B, C        DevicePtr
	AType, BType   DataType
	CType          DataType
	LDA, LDB, LDC  int
	Compute        ComputeType
	Algo           int // GemmDefault
}

// GemmEx runs cublasGemmEx.
func (h *BLASHandle) GemmEx(g *Gemm) error {
	alpha, beta := g.Alpha, g.Beta
	r := sysCall(h.b.gemmEx, h.h, uintptr(g.TransA), uintptr(g.TransB), uintptr(g.M), uintptr(g.N), uintptr(g.K),
		uintptr(unsafe.Pointer(&alpha)), uintptr(g.A), uintptr(g.AType), uintptr(g.LDA),
		uintptr(g.B), uintptr(g.BType), uintptr(g.LDB),
		uintptr(unsafe.Pointer(&beta)), uintptr(g.C), uintptr(g.CType), uintptr(g.LDC),
		uintptr(g.Compute), uintptr(g.Algo))
	if r != 0 {
		return h.b.err(r, "cublasGemmEx(%s)", g)
	}
	return nil
}

// GemmStridedBatchedEx runs cublasGemmStridedBatchedEx: batch GEMMs whose
// matrices start strideA, strideB, strideC elements apart.
func (h *BLASHandle) GemmStridedBatchedEx(g *Gemm, strideA, strideB, strideC int64, batch int) error {
	alpha, beta := g.Alpha, g.Beta
	r := sysCall(h.b.gemmStridedBatchedEx, h.h, uintptr(g.TransA), uintptr(g.TransB), uintptr(g.M), uintptr(g.N), uintptr(g.K),
		uintptr(unsafe.Pointer(&alpha)), uintptr(g.A), uintptr(g.AType), uintptr(g.LDA), uintptr(strideA),
		uintptr(g.B), uintptr(g.BType), uintptr(g.LDB), uintptr(strideB),
		uintptr(unsafe.Pointer(&beta)), uintptr(g.C), uintptr(g.CType), uintptr(g.LDC), uintptr(strideC),
		uintptr(batch), uintptr(g.Compute), uintptr(g.Algo))
	if r != 0 {
		return h.b.err(r, "cublasGemmStridedBatchedEx(%s, strides %d %d %d, batch %d)", g, strideA, strideB, strideC, batch)
	}
	return nil
}

// GemmBatchedEx runs cublasGemmBatchedEx: g.A, g.B and g.C are device
// arrays of batch device pointers each.
func (h *BLASHandle) GemmBatchedEx(g *Gemm, batch int) error {
	alpha, beta := g.Alpha, g.Beta
	r := sysCall(h.b.gemmBatchedEx, h.h, uintptr(g.TransA), uintptr(g.TransB), uintptr(g.M), uintptr(g.N), uintptr(g.K),
		uintptr(unsafe.Pointer(&alpha)), uintptr(g.A), uintptr(g.AType), uintptr(g.LDA),
		uintptr(g.B), uintptr(g.BType), uintptr(g.LDB),
		uintptr(unsafe.Pointer(&beta)), uintptr(g.C), uintptr(g.CType), uintptr(g.LDC),
		uintptr(batch), uintptr(g.Compute), uintptr(g.Algo))
	if r != 0 {
		return h.b.err(r, "cublasGemmBatchedEx(%s, batch %d)", g, batch)
	}
	return nil
}

func (g *Gemm) String() string {
	op := func(o Op) string {
		if o == OpT {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s m=%d n=%d k=%d types %d/%d/%d ld %d/%d/%d compute %d",
		op(g.TransA), op(g.TransB), g.M, g.N, g.K, g.AType, g.BType, g.CType, g.LDA, g.LDB, g.LDC, g.Compute)
}
