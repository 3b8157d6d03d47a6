package openblas

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/smt-go/smt/pkg/gemm"
)

// KeepCoreTypeEnv names the environment variable that, set to 1, makes Load
// leave OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in place.
const KeepCoreTypeEnv = "SMT_KEEP_OPENBLAS_CORETYPE"

// PathEnv names an environment variable holding an explicit library path,
// tried before the default candidates.
const PathEnv = "SMT_OPENBLAS"

// coreEnvVars are the variables that override OpenBLAS's CPU detection.
var coreEnvVars = []string{"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}

// Lib is a loaded OpenBLAS library. Its methods are safe for concurrent use.
type Lib struct {
	// Path is the file name that was loaded.
	Path string
	// Config is openblas_get_config(), e.g.
	// "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64".
	Config string
	// CoreName is openblas_get_corename(): the kernel family OpenBLAS chose,
	// e.g. "Cooperlake" or "SkylakeX" (AVX-512) or "Haswell" (AVX2).
	CoreName string
	// RemovedEnv lists the NAME=value pairs removed from the C environment
	// before loading (empty when none were set or they were kept).
	RemovedEnv []string

	sgemm      func(order, transA, transB, m, n, k int32, alpha float32, a unsafe.Pointer, lda int32, b unsafe.Pointer, ldb int32, beta float32, c unsafe.Pointer, ldc int32)
	setThreads func(n int32)
	getThreads func() int32
}

// CBLAS constants (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

var (
	loadOnce sync.Once
	loaded   *Lib
	loadErr  error
)

// Load loads OpenBLAS once per process and returns it; later calls return
// the same result. It first clears the OPENBLAS_CORETYPE override (see the
// package documentation), then tries $SMT_OPENBLAS, the sonames
// libopenblas.so.0 and libopenblas.so, and the usual Debian, Fedora and
// /usr/local locations including the openblas-pthread directory and
// libopenblasp-r0.* files. The error lists every path tried and why it
// failed.
func Load() (*Lib, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

// candidates returns the library paths to try, in order.
func candidates() []string {
	var paths []string
	if p := os.Getenv(PathEnv); p != "" {
		paths = append(paths, p)
	}
	paths = append(paths, "libopenblas.so.0", "libopenblas.so")
	for _, dir := range []string{
		"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/opt/OpenBLAS/lib",
	} {
		for _, sub := range []string{"openblas-pthread/", "openblas-openmp/", ""} {
			paths = append(paths, dir+"/"+sub+"libopenblas.so.0", dir+"/"+sub+"libopenblas.so")
			paths = append(paths, globOrEmpty(dir+"/"+sub+"libopenblasp-r0*.so")...)
		}
	}
	if runtime.GOOS == "darwin" {
		paths = append(paths, "libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib")
	}
	return paths
}

// load does the work of Load.
func load() (*Lib, error) {
	lib := &Lib{}
	if os.Getenv(KeepCoreTypeEnv) != "1" {
		removed, err := unsetCEnv(coreEnvVars)
		if err != nil {
			return nil, fmt.Errorf("openblas: clearing OPENBLAS_CORETYPE before loading: %w (set %s=1 to skip)", err, KeepCoreTypeEnv)
		}
		lib.RemovedEnv = removed
	}
	var tried []string
	var handle uintptr
	for _, p := range candidates() {
		h, err := dlopen(p)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
			continue
		}
		handle, lib.Path = h, p
		break
	}
	if handle == 0 {
		return nil, fmt.Errorf("openblas: OpenBLAS not found (install libopenblas0-pthread or set %s); tried:\n  %s",
			PathEnv, strings.Join(tried, "\n  "))
	}
	var getConfig, getCoreName func() string
	for _, sym := range []struct {
		name string
		fn   any
	}{
		{"cblas_sgemm", &lib.sgemm},
		{"openblas_set_num_threads", &lib.setThreads},
		{"openblas_get_num_threads", &lib.getThreads},
		{"openblas_get_config", &getConfig},
		{"openblas_get_corename", &getCoreName},
	} {
		if err := bind(handle, sym.name, sym.fn); err != nil {
			return nil, fmt.Errorf("openblas: %s: %w", lib.Path, err)
		}
	}
	lib.Config = strings.TrimSpace(getConfig())
	lib.CoreName = strings.TrimSpace(getCoreName())
	return lib, nil
}

// Threads reports how many threads OpenBLAS uses.
func (l *Lib) Threads() int { return int(l.getThreads()) }

// SetThreads sets how many threads OpenBLAS uses (n <= 0: one per CPU).
func (l *Lib) SetThreads(n int) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	l.setThreads(int32(n))
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with cblas_sgemm, with
// exactly the conventions, argument checks and panics of gemm.Sgemm.
func (l *Lib) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm.CheckArgs("openblas.Sgemm", transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for _, v := range []int{m, n, k, lda, ldb, ldc} {
		if v > math.MaxInt32 {
			panic(fmt.Sprintf("openblas: Sgemm: size or leading dimension %d exceeds OpenBLAS's 32-bit integers", v))
		}
	}
	if m == 0 || n == 0 {
		return
	}
	ta, tb := int32(cblasNoTrans), int32(cblasNoTrans)
	if transA {
		ta = cblasTrans
	}
	if transB {
		tb = cblasTrans
	}
	l.sgemm(cblasRowMajor, ta, tb, int32(m), int32(n), int32(k), alpha,
		unsafe.Pointer(unsafe.SliceData(a)), int32(lda), unsafe.Pointer(unsafe.SliceData(b)), int32(ldb),
		beta, unsafe.Pointer(unsafe.SliceData(c)), int32(ldc))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

// errUnsupported is returned where dynamic loading is not available.
var errUnsupported = errors.New("loading shared libraries at run time is not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
