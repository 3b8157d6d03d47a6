// Package openblas calls OpenBLAS's cblas_sgemm, loaded at run time with
// github.com/ebitengine/purego, so binaries built with CGO_ENABLED=0 can
// use OpenBLAS when it is installed and still run where it is not.
//
// OpenBLAS built with DYNAMIC_ARCH (as Debian's is) picks its kernels in
// the library constructor, reading the C environment variable
// OPENBLAS_CORETYPE. Some machines set OPENBLAS_CORETYPE=Haswell globally
// (to work around old OpenBLAS builds), which makes OpenBLAS use AVX2
// kernels on AVX-512 CPUs at about half speed. Load therefore removes
// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (set alongside it) from the C
// environment before it loads the library, unless
// SMT_KEEP_OPENBLAS_CORETYPE=1 is set. It calls libc's getenv and unsetenv
// through purego, which works in every build: with cgo, and with
// CGO_ENABLED=0, where purego's fake cgo links libc dynamically (there
// os.Unsetenv happens to reach libc's environ too, see TestGoEnvReachesC,
// but it would also strip the variable from child processes). Go's own
// copy of the environment, which child processes inherit, is left
// unchanged. (*Lib).CoreName reports the kernel family OpenBLAS chose.
package openblas
