package cpu

import "math"

// Exp32 is a float32 exp accurate to about 1 ulp over the whole float32
// range, several times faster than math.Exp: x = n·ln2 + r with
// |r| ≤ ln2/2, exp(r) by a degree-6 polynomial, then scaled by 2ⁿ through
// the exponent bits.
func Exp32(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	case x != x:
		return x
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi
	r -= n * ln2lo
	// exp(r) ≈ 1 + r + r²/2 + … + r⁶/720 (Horner).
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	ni := int32(n)
	if ni < -126 {
		// Subnormal result: scale in two steps.
		return p * math.Float32frombits(uint32(ni+126+127)<<23) * math.Float32frombits(1<<23)
	}
	if ni > 127 {
		return p * 2 * math.Float32frombits(uint32(ni-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}
