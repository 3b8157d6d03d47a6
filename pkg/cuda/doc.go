// Package cuda binds the parts of the CUDA driver API, cuBLAS and NCCL
// that the CUDA backend uses, at run time, with github.com/ebitengine/purego:
// no cgo, so the same binary (built with CGO_ENABLED=0) runs on machines
// with and without a GPU, and uses one when the libraries are there.
//
// # Loading
//
// LoadDriver, LoadBLAS and LoadNCCL open libcuda.so.1, libcublas.so.13,
// .12 or .11 (the newest the driver supports; libcublasLt from the same
// directory first) and libnccl.so.2. They search, in order: the
// directories in LoadOptions.Dirs, $SMT_CUDA_LIBRARY_PATH,
// $LD_LIBRARY_PATH, the system loader (ld.so.cache and its default paths),
// the usual CUDA directories (/usr/local/cuda/lib64, …), and the
// site-packages/nvidia/*/lib directories that PyTorch's pip wheels install,
// under /usr/lib/python3*, /usr/local/lib/python3*, ~/.local/lib/python3*,
// $VIRTUAL_ENV, $CONDA_PREFIX and every virtual environment on PATH. When
// nothing is found the error (a *NotFoundError) lists every place searched.
//
// # Errors
//
// Every call's status is checked: a failure is an *Error naming the
// library, the call with its main arguments and the status, e.g.
//
//	cuda: cuMemAlloc_v2(1073741824): CUDA_ERROR_OUT_OF_MEMORY (out of memory)
//
// # Threads
//
// The driver keeps a current context per OS thread, while Go moves
// goroutines between threads. Context.Enter locks the calling goroutine to
// its thread and makes the context current there (cuCtxSetCurrent is a
// thread-local store in the driver, cheap enough to do per operation);
// Exit unlocks it. The CUDA backend does this around every operation, so
// it can be called from any goroutine: there is no executor goroutine to
// hand work to, and no requirement on the caller.
//
// # Tests without a GPU
//
// Package cudatest builds stand-in libraries with the same symbols, which
// log and check every argument and run the real kernels on the CPU; the
// tests of this package and of the backend use them.
package cuda
