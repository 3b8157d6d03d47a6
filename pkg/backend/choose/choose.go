// Package choose opens the backend a --device flag names:
//
//	cpu      the CPU backend (float32)
//	cuda     the CUDA backend on device 0
//	cuda:N   the CUDA backend on device N
//	auto     CUDA device 0 when the libraries and a device are there,
//	         else the CPU, with a one-line notice saying why
//
// The same binary (built with CGO_ENABLED=0) runs everywhere: the CUDA
// libraries are loaded at run time.
package choose

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/backend/cuda"
	cu "github.com/smt-go/smt/pkg/cuda"
)

// Usage describes the accepted values, for flag help.
const Usage = "compute device: auto (CUDA if available, else CPU), cpu, cuda or cuda:N"

// Open returns the backend spec names, using threads CPU threads (0: all
// cores) for the CPU backend. With "auto" it falls back to the CPU and
// writes why to stderr.
func Open(spec string, threads int) (backend.Backend, error) {
	return OpenWithNotice(spec, threads, os.Stderr)
}

// OpenWithNotice is Open writing the fallback notice to w (nil: nowhere).
func OpenWithNotice(spec string, threads int, w io.Writer) (backend.Backend, error) {
	s := strings.ToLower(strings.TrimSpace(spec))
	switch {
	case s == "cpu":
		return cpu.New32(threads), nil
	case s == "auto" || s == "":
		be, err := cuda.New(0)
		if err == nil {
			return be, nil
		}
		if w != nil {
			fmt.Fprintf(w, "%s; using the CPU\n", Reason(err))
		}
		return cpu.New32(threads), nil
	case s == "cuda" || s == "gpu":
		return openCUDA(0)
	case strings.HasPrefix(s, "cuda:"):
		n, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("device %q: the device number must be a non-negative integer (cuda:0, cuda:1, …)", spec)
		}
		return openCUDA(n)
	}
	return nil, fmt.Errorf("unknown device %q: use auto, cpu, cuda or cuda:N", spec)
}

func openCUDA(n int) (backend.Backend, error) {
	be, err := cuda.New(n)
	if err != nil {
		return nil, fmt.Errorf("device cuda:%d: %w", n, err)
	}
	return be, nil
}

// Reason shortens why CUDA could not be used to one clause, e.g. "no
// libcuda.so.1 found" or "cuInit(0): CUDA_ERROR_NO_DEVICE".
func Reason(err error) string {
	var nf *cu.NotFoundError
	if errors.As(err, &nf) {
		return "no " + strings.Join(nf.Sonames, " or ") + " found"
	}
	var ce *cu.Error
	if errors.As(err, &ce) {
		return ce.Call + ": " + ce.Name
	}
	s := strings.TrimPrefix(err.Error(), "cuda: ")
	if i := strings.Index(s, "; "); i > 0 {
		s = s[:i]
	}
	return s
}

// Close releases b's device resources when it has any (the CUDA
// backend); it is a no-op for the CPU backend.
func Close(b backend.Backend) error {
	if c, ok := b.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
