package gemm

import "unsafe"

// kernelGeneric4x8 is the portable micro-kernel (mr=4, nr=8), written so
// the compiler keeps the 32 accumulators in a fixed-size array.
func kernelGeneric4x8(kc int, a, b, c *float32, ldc int, alpha, beta float32) {
	const mr, nr = 4, 8
	var acc [mr][nr]float32
	ap := unsafe.Slice(a, kc*mr)
	bp := unsafe.Slice(b, kc*nr)
	for p := 0; p < kc; p++ {
		av := (*[mr]float32)(ap[p*mr : p*mr+mr])
		bv := (*[nr]float32)(bp[p*nr : p*nr+nr])
		for i := 0; i < mr; i++ {
			ai := av[i]
			row := &acc[i]
			for j := 0; j < nr; j++ {
				row[j] += ai * bv[j]
			}
		}
	}
	cp := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i++ {
		ci := (*[nr]float32)(cp[i*ldc : i*ldc+nr])
		if beta == 0 {
			for j := 0; j < nr; j++ {
				ci[j] = alpha * acc[i][j]
			}
		} else {
			for j := 0; j < nr; j++ {
				ci[j] = alpha*acc[i][j] + beta*ci[j]
			}
		}
	}
}
