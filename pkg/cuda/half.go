package cuda

import "math"

// BF16 converts a float32 to bfloat16 bits, rounding to nearest even (NaN
// stays a quiet NaN of the same sign), as __float2bfloat16_rn does.
func BF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// FromBF16 converts bfloat16 bits to float32 (exactly).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundBF16 rounds a float32 to the nearest bfloat16 value.
func RoundBF16(f float32) float32 { return FromBF16(BF16(f)) }

// F16 converts a float32 to IEEE half-precision bits, rounding to nearest
// even, with subnormals, infinities and NaN.
func F16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15: // overflow
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 1 { // normal half
		m := man >> 13
		rest := man & 0x1fff
		h := uint32(e)<<10 | m
		if rest > 0x1000 || (rest == 0x1000 && m&1 == 1) {
			h++ // may carry into the exponent, up to Inf: correct
		}
		return sign | uint16(h)
	}
	// Subnormal half (or zero): value = m·2⁻²⁴.
	if exp == 0 || e < -10 {
		return sign // too small: rounds to zero (the halfway case 2⁻²⁵ rounds to even, 0)
	}
	full := man | 0x800000 // 24 significant bits, value full·2^(exp−150)
	shift := uint(14 - e)  // to units of 2⁻²⁴: 150 − exp − 24 + … = 14 − e
	m := full >> shift
	rest := full & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rest > half || (rest == half && m&1 == 1) {
		m++
	}
	return sign | uint16(m)
}

// FromF16 converts IEEE half-precision bits to float32 (exactly).
func FromF16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := int(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		v := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | man<<13)
}
