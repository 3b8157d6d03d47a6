package cuda

import (
	"errors"
	"fmt"
	"runtime"
)

// errUnsupported is returned on platforms without the CUDA libraries.
var errUnsupported = errors.New("cuda: the CUDA backend runs on linux/amd64 and linux/arm64 only, not " + runtime.GOOS + "/" + runtime.GOARCH)

// Error is a failed call into the CUDA driver, cuBLAS or NCCL: the library,
// the function with its main arguments, and the status it returned.
type Error struct {
	Lib  string // "cuda", "cublas" or "nccl"
	Call string // the function and its arguments, e.g. "cuMemAlloc_v2(1024)"
	Code int    // the status code
	Name string // the status name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Desc string // the library's description of the status, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %s", e.Lib, e.Call, e.Name)
	if e.Desc != "" && e.Desc != e.Name {
		s += " (" + e.Desc + ")"
	}
	return s
}

// Driver status codes the package refers to by name.
const (
	Success             = 0
	ErrorInvalidValue   = 1
	ErrorOutOfMemory    = 2
	ErrorNotInitialized = 3
	ErrorNoDevice       = 100
	ErrorInvalidDevice  = 101
	ErrorInvalidPTX     = 218
	ErrorNotFound       = 500
	ErrorIllegalAddr    = 700
)

// IsCode reports whether err is (or wraps) an *Error with the given code.
func IsCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// cublasStatusNames maps cublasStatus_t values to their names, for
// libraries too old to have cublasGetStatusName.
var cublasStatusNames = map[int]string{
	0:  "CUBLAS_STATUS_SUCCESS",
	1:  "CUBLAS_STATUS_NOT_INITIALIZED",
	3:  "CUBLAS_STATUS_ALLOC_FAILED",
	7:  "CUBLAS_STATUS_INVALID_VALUE",
	8:  "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR",
	15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

// ncclResultNames maps ncclResult_t values to their names.
var ncclResultNames = map[int]string{
	0: "ncclSuccess",
	1: "ncclUnhandledCudaError",
	2: "ncclSystemError",
	3: "ncclInternalError",
	4: "ncclInvalidArgument",
	5: "ncclInvalidUsage",
	6: "ncclRemoteError",
	7: "ncclInProgress",
}
