package gemm

import "unsafe"

// kernelGeneric4x4 is the portable micro-kernel (mr = nr = 4). The 16
// accumulators are named locals so the compiler keeps them in registers
// (it fuses the multiply-adds on arm64, ppc64 and s390x).
func kernelGeneric4x4(kc int, a, b, c *float32, ldc int, alpha, beta float32) {
	var (
		c00, c01, c02, c03 float32
		c10, c11, c12, c13 float32
		c20, c21, c22, c23 float32
		c30, c31, c32, c33 float32
	)
	ap := unsafe.Slice(a, kc*4)
	bp := unsafe.Slice(b, kc*4)
	for p := 0; p < kc; p++ {
		av := (*[4]float32)(ap[p*4:])
		bv := (*[4]float32)(bp[p*4:])
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cp := unsafe.Slice(c, 3*ldc+4)
	store4(cp[0*ldc:], c00, c01, c02, c03, alpha, beta)
	store4(cp[1*ldc:], c10, c11, c12, c13, alpha, beta)
	store4(cp[2*ldc:], c20, c21, c22, c23, alpha, beta)
	store4(cp[3*ldc:], c30, c31, c32, c33, alpha, beta)
}

// store4 writes alpha·(x0..x3) (+ beta·row when beta != 0) to row[0:4].
func store4(row []float32, x0, x1, x2, x3, alpha, beta float32) {
	r := (*[4]float32)(row)
	if beta == 0 {
		r[0], r[1], r[2], r[3] = alpha*x0, alpha*x1, alpha*x2, alpha*x3
		return
	}
	r[0] = alpha*x0 + beta*r[0]
	r[1] = alpha*x1 + beta*r[1]
	r[2] = alpha*x2 + beta*r[2]
	r[3] = alpha*x3 + beta*r[3]
}
