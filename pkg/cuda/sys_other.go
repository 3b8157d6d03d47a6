//go:build !(linux && (amd64 || arm64))

package cuda

// supported reports whether this platform can load the CUDA libraries.
const supported = false

const (
	rtldNow    = 2
	rtldGlobal = 0x100
)

func dlopen(string, int) (uintptr, error) { return 0, errUnsupported }

func dlsym(uintptr, string) (uintptr, error) { return 0, errUnsupported }

func sysCall(uintptr, ...uintptr) uintptr { panic(errUnsupported) }

func registerFunc(any, uintptr) { panic(errUnsupported) }
