package cpu

import "golang.org/x/sys/cpu"

// expConsts are the constants of the vector exp kernels, each broadcast
// from this table: clamp bounds, log2(e), ln2 split in a high and a low
// part, and the Taylor coefficients 1/6! … 1/0!.
var expConsts = [...]float32{
	-104.5, 89, // 0, 1: input clamp (results round to 0 and +Inf beyond)
	1.44269504088896341,                                // 2: log2(e)
	0.693359375,                                        // 3: ln2 high part
	-2.12194440e-4,                                     // 4: ln2 low part
	1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1, // 5..11: polynomial, highest degree first
}

var useAVX512 = cpu.X86.HasAVX512F

// ExpSubSum replaces every x[i] by exp(x[i] − m) and returns the sum of
// the results (accumulated in float32 lanes). It is the inner loop of
// softmax and cross-entropy; the AVX-512 path computes the same polynomial
// as Exp32 sixteen values at a time.
func ExpSubSum(x []float32, m float32) float32 {
	var sum float32
	i := 0
	if useAVX512 && len(x) >= 16 {
		n := len(x) &^ 15
		sum = expSubSumAVX512(&x[0], n, m)
		i = n
	}
	for ; i < len(x); i++ {
		e := Exp32(x[i] - m)
		x[i] = e
		sum += e
	}
	return sum
}
