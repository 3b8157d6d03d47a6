package gemm

import "fmt"

// checkGemm panics unless the arguments describe a valid product.
func checkGemm(fn string, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: %s: negative size m=%d n=%d k=%d", fn, m, n, k))
	}
	ar, ac := m, k // stored shape of A
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n // stored shape of B
	if transB {
		br, bc = n, k
	}
	checkMatrix(fn, "A", ar, ac, len(a), lda, m == 0 || n == 0 || k == 0)
	checkMatrix(fn, "B", br, bc, len(b), ldb, m == 0 || n == 0 || k == 0)
	checkMatrix(fn, "C", m, n, len(c), ldc, m == 0 || n == 0)
}

// checkMatrix panics unless a rows×cols matrix with leading dimension ld
// fits in a slice of length size. When unused is true the matrix is not
// accessed and only the leading dimension is checked.
func checkMatrix(fn, name string, rows, cols, size, ld int, unused bool) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: %s: ld%s=%d is less than max(1, %d), the row length of the stored %d×%d %s",
			fn, lowerName(name), ld, cols, rows, cols, name))
	}
	if unused || rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; size < need {
		panic(fmt.Sprintf("gemm: %s: len(%s)=%d is too short for a stored %d×%d matrix with ld%s=%d (need %d)",
			fn, lowerName(name), size, rows, cols, lowerName(name), ld, need))
	}
}

func lowerName(name string) string { return string(rune(name[0]) + ('a' - 'A')) }

// CheckArgs panics, with the same messages as Sgemm, unless the arguments
// describe a valid Sgemm call. Other implementations of the Sgemm signature
// (such as package openblas) use it to validate their input identically;
// fn names the caller in the message.
func CheckArgs(fn string, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	checkGemm(fn, transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
}
