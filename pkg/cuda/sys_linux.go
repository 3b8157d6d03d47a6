//go:build linux && (amd64 || arm64)

package cuda

import (
	"github.com/ebitengine/purego"
)

// supported reports whether this platform can load the CUDA libraries.
const supported = true

const (
	rtldNow    = purego.RTLD_NOW
	rtldGlobal = purego.RTLD_GLOBAL
)

func dlopen(path string, mode int) (uintptr, error) { return purego.Dlopen(path, mode) }

func dlsym(h uintptr, name string) (uintptr, error) { return purego.Dlsym(h, name) }

// sysCall calls the C function fn with integer and pointer arguments and
// returns its integer result. Pointers into Go memory must be converted to
// uintptr in the call expression itself, so that the compiler keeps their
// objects alive and on the heap for the duration of the call.
//
//go:uintptrescapes
func sysCall(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// registerFunc binds a Go function value to a C function (for the calls
// that pass structs by value).
func registerFunc(fptr any, fn uintptr) { purego.RegisterFunc(fptr, fn) }
