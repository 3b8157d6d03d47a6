package cpu

import (
	"fmt"
	"os"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/gemm"
	"github.com/smt-go/smt/pkg/gemm/openblas"
)

// GemmEnv names an environment variable choosing the float32 GEMM:
// "go" (the default: package gemm's SIMD kernels) or "openblas" (OpenBLAS
// loaded at run time; the process fails to start the backend's first
// product with a clear message if it is not installed).
const GemmEnv = "SMT_GEMM"

// sgemmFunc is the float32 GEMM the backend uses.
var sgemmFunc = gemm.Sgemm

var blas *openblas.Lib

func setGemmThreads(n int) {
	gemm.SetThreads(n)
	if blas != nil {
		blas.SetThreads(n)
	}
}

// UseOpenBLAS switches the float32 GEMM to OpenBLAS (what SMT_GEMM=openblas
// does at start-up).
func UseOpenBLAS() error {
	lib, err := openblas.Load()
	if err != nil {
		return err
	}
	blas, sgemmFunc = lib, lib.Sgemm
	return nil
}

func init() {
	switch os.Getenv(GemmEnv) {
	case "", "go":
	case "openblas":
		if err := UseOpenBLAS(); err != nil {
			fmt.Fprintf(os.Stderr, "%s=openblas: %v; using the Go GEMM\n", GemmEnv, err)
		}
	default:
		fmt.Fprintf(os.Stderr, "%s=%q is not go or openblas; using the Go GEMM\n", GemmEnv, os.Getenv(GemmEnv))
	}
}

// MatMul implements backend.Backend.
func (be *Backend[T]) MatMul(transA, transB bool, m, n, k int, alpha float32, a backend.Buf, lda int, b backend.Buf, ldb int, beta float32, c backend.Buf, ldc int) {
	A, B, C := Data[T](a), Data[T](b), Data[T](c)
	if f32, ok := any(A).([]float32); ok && sgemmFunc != nil {
		sgemmFunc(transA, transB, m, n, k, alpha, f32, lda, any(B).([]float32), ldb, beta, any(C).([]float32), ldc)
		return
	}
	be.refGemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
}

// refGemm is the plain triple loop (parallel over rows of C), accumulating
// in T. It is the float64 backend's GEMM and the reference for tests.
func (be *Backend[T]) refGemm(transA, transB bool, m, n, k int, alpha float32, A []T, lda int, B []T, ldb int, beta float32, C []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkLen := func(what string, s []T, rows, cols, ld int) {
		if rows > 0 && cols > 0 && (ld < cols || len(s) < (rows-1)*ld+cols) {
			panic(fmt.Sprintf("cpu: matmul %s: %d×%d with ld %d needs %d values, have %d", what, rows, cols, ld, (rows-1)*ld+cols, len(s)))
		}
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkLen("A", A, ar, ac, lda)
	checkLen("B", B, br, bc, ldb)
	checkLen("C", C, m, n, ldc)
	al, bt := T(alpha), T(beta)
	be.parFor(m, n*k, func(lo, hi int) {
		row := make([]T, n)
		for i := lo; i < hi; i++ {
			clear(row)
			for p := 0; p < k; p++ {
				var aip T
				if transA {
					aip = A[p*lda+i]
				} else {
					aip = A[i*lda+p]
				}
				if aip == 0 {
					continue
				}
				if transB {
					for j := 0; j < n; j++ {
						row[j] += aip * B[j*ldb+p]
					}
				} else {
					bp := B[p*ldb : p*ldb+n]
					for j, bv := range bp {
						row[j] += aip * bv
					}
				}
			}
			ci := C[i*ldc : i*ldc+n]
			if beta == 0 {
				for j := range ci {
					ci[j] = al * row[j]
				}
			} else {
				for j := range ci {
					ci[j] = al*row[j] + bt*ci[j]
				}
			}
		}
	})
}
