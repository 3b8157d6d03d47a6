package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// ErrUnsupportedDType is returned (wrapped) when a conversion is asked of a
// dtype it does not handle, such as DecodeFloat32 on an I8 tensor.
var ErrUnsupportedDType = errors.New("unsupported dtype")

// BF16ToFloat32 returns the float32 value of the bfloat16 bits b. The
// conversion is exact: b becomes the top 16 bits of the float32.
func BF16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// Float32ToBF16 returns the bfloat16 bits nearest to f, rounding ties to
// even; values past the largest bfloat16 become ±Inf. Every NaN becomes
// 0xFFFF, the NaN that PyTorch's CPU kernels produce (its scalar and CUDA
// paths give 0x7FC0; both are NaN).
func Float32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return 0xffff
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// F16ToFloat32 returns the float32 value of the IEEE binary16 bits h. The
// conversion is exact, subnormals included; a NaN keeps its sign and payload.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: man × 2^-24. Normalise the mantissa.
		e := uint32(127 - 14)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// Float32ToF16 returns the IEEE binary16 bits nearest to f, rounding ties to
// even, with binary16 subnormals for tiny values and ±Inf for values of
// magnitude 65520 and above. A NaN becomes the quiet NaN 0x7E00 with f's
// sign. These are the bits PyTorch and NumPy give.
func Float32ToF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	a := u & 0x7fffffff
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7e00
	case a >= 0x477ff000: // ≥ 65520 (the tie above 65504) or Inf
		return sign | 0x7c00
	case a >= 0x38800000: // ≥ 2^-14: a normal binary16
		a -= (127 - 15) << 23
		return sign | uint16((a+0xfff+(a>>13)&1)>>13)
	case a <= 0x33000000: // ≤ 2^-25, half the smallest subnormal: ties to 0
		return sign
	}
	// Subnormal binary16: value = m × 2^(e-150), result unit 2^-24.
	e := a >> 23
	m := a&0x7fffff | 0x800000
	shift := 126 - e // between 14 and 24
	r := m >> shift
	rem := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || rem == half && r&1 == 1 {
		r++
	}
	return sign | uint16(r)
}

// DecodeFloat32 converts the little-endian elements of dtype dt in src to
// float32 in dst. dt must be F32, F16, BF16 or F64 (F64 is rounded to
// nearest); len(src) must be len(dst) × dt.Size(). Large inputs are converted
// in parallel.
func DecodeFloat32(dst []float32, src []byte, dt DType) error {
	if !dt.IsFloat() {
		return fmt.Errorf("safetensors: decode %s to float32: %w", dt, ErrUnsupportedDType)
	}
	if len(src) != len(dst)*dt.Size() {
		return fmt.Errorf("safetensors: decode %s: %d bytes for %d float32 values, want %d bytes",
			dt, len(src), len(dst), len(dst)*dt.Size())
	}
	sz := dt.Size()
	parallelFor(len(dst), func(lo, hi int) {
		d, s := dst[lo:hi], src[lo*sz:hi*sz]
		switch dt {
		case F32:
			decodeF32(d, s)
		case BF16:
			decodeBF16(d, s)
		case F16:
			decodeF16(d, s)
		case F64:
			decodeF64(d, s)
		}
	})
	return nil
}

// EncodeFloat32 converts src to little-endian elements of dtype dt in dst.
// dt must be F32, F16, BF16 or F64; len(dst) must be len(src) × dt.Size().
// F16 and BF16 round to nearest even exactly as Float32ToF16 and
// Float32ToBF16 do. Large inputs are converted in parallel.
func EncodeFloat32(dst []byte, src []float32, dt DType) error {
	if !dt.IsFloat() {
		return fmt.Errorf("safetensors: encode float32 to %s: %w", dt, ErrUnsupportedDType)
	}
	if len(dst) != len(src)*dt.Size() {
		return fmt.Errorf("safetensors: encode %s: %d bytes for %d float32 values, want %d bytes",
			dt, len(dst), len(src), len(src)*dt.Size())
	}
	sz := dt.Size()
	parallelFor(len(src), func(lo, hi int) {
		d, s := dst[lo*sz:hi*sz], src[lo:hi]
		switch dt {
		case F32:
			encodeF32(d, s)
		case BF16:
			encodeBF16(d, s)
		case F16:
			encodeF16(d, s)
		case F64:
			encodeF64(d, s)
		}
	})
	return nil
}

// parallelGrain is the number of elements below which a conversion runs on
// the calling goroutine only.
const parallelGrain = 1 << 17

// parallelFor calls fn over [0, n) split into contiguous ranges, one per
// available CPU when n is large enough to pay for the goroutines.
func parallelFor(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelGrain)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// littleEndian reports whether the host stores integers little-endian, in
// which case aligned byte buffers can be read as []uint16 and []float32
// directly.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// asUint16s returns b viewed as []uint16 when the host is little-endian and b
// is 2-byte aligned; ok is false otherwise. len(b) must be even.
func asUint16s(b []byte) (s []uint16, ok bool) {
	if !littleEndian || len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%2 != 0 {
		return nil, false
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2), true
}

// float32Bytes returns the memory of f as bytes (always aligned).
func float32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

func decodeF32(dst []float32, src []byte) {
	if littleEndian {
		copy(float32Bytes(dst), src)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func encodeF32(dst []byte, src []float32) {
	if littleEndian {
		copy(dst, float32Bytes(src))
		return
	}
	for i, f := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
	}
}

func decodeBF16(dst []float32, src []byte) {
	if s, ok := asUint16s(src); ok {
		dst = dst[:len(s)]
		for i, h := range s {
			dst[i] = math.Float32frombits(uint32(h) << 16)
		}
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(src[2*i])<<16 | uint32(src[2*i+1])<<24)
	}
}

func encodeBF16(dst []byte, src []float32) {
	if d, ok := asUint16s(dst); ok {
		d = d[:len(src)]
		i := 0
		for ; i+4 <= len(src); i += 4 {
			s := src[i : i+4 : i+4]
			o := d[i : i+4 : i+4]
			u0, u1, u2, u3 := math.Float32bits(s[0]), math.Float32bits(s[1]), math.Float32bits(s[2]), math.Float32bits(s[3])
			if (u0&0x7fffffff) > 0x7f800000 || (u1&0x7fffffff) > 0x7f800000 ||
				(u2&0x7fffffff) > 0x7f800000 || (u3&0x7fffffff) > 0x7f800000 {
				for j := range 4 {
					o[j] = Float32ToBF16(s[j])
				}
				continue
			}
			o[0] = uint16((u0 + 0x7fff + (u0>>16)&1) >> 16)
			o[1] = uint16((u1 + 0x7fff + (u1>>16)&1) >> 16)
			o[2] = uint16((u2 + 0x7fff + (u2>>16)&1) >> 16)
			o[3] = uint16((u3 + 0x7fff + (u3>>16)&1) >> 16)
		}
		for ; i < len(src); i++ {
			d[i] = Float32ToBF16(src[i])
		}
		return
	}
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], Float32ToBF16(f))
	}
}

func decodeF16(dst []float32, src []byte) {
	if s, ok := asUint16s(src); ok {
		dst = dst[:len(s)]
		for i, h := range s {
			// Fast path for normal numbers; F16ToFloat32 handles the rest.
			if e := h & 0x7c00; e != 0 && e != 0x7c00 {
				dst[i] = math.Float32frombits(uint32(h&0x8000)<<16 | (uint32(h&0x7fff)+(127-15)<<10)<<13)
				continue
			}
			dst[i] = F16ToFloat32(h)
		}
		return
	}
	for i := range dst {
		dst[i] = F16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func encodeF16(dst []byte, src []float32) {
	if d, ok := asUint16s(dst); ok {
		d = d[:len(src)]
		for i, f := range src {
			d[i] = Float32ToF16(f)
		}
		return
	}
	for i, f := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], Float32ToF16(f))
	}
}

func decodeF64(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

func encodeF64(dst []byte, src []float32) {
	for i, f := range src {
		binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(f)))
	}
}

// DecodeInt64 converts the little-endian integers of dtype dt in src to int64
// in dst. dt may be I64, I32, I16, I8, U32, U16, U8 or BOOL, or U64 when every
// value fits in an int64; len(src) must be len(dst) × dt.Size().
func DecodeInt64(dst []int64, src []byte, dt DType) error {
	if len(src) != len(dst)*dt.Size() || !dt.Valid() {
		return fmt.Errorf("safetensors: decode %s: %d bytes for %d int64 values", dt, len(src), len(dst))
	}
	for i := range dst {
		switch dt {
		case I64:
			dst[i] = int64(binary.LittleEndian.Uint64(src[8*i:]))
		case U64:
			v := binary.LittleEndian.Uint64(src[8*i:])
			if v > math.MaxInt64 {
				return fmt.Errorf("safetensors: decode U64: element %d = %d overflows int64", i, v)
			}
			dst[i] = int64(v)
		case I32:
			dst[i] = int64(int32(binary.LittleEndian.Uint32(src[4*i:])))
		case U32:
			dst[i] = int64(binary.LittleEndian.Uint32(src[4*i:]))
		case I16:
			dst[i] = int64(int16(binary.LittleEndian.Uint16(src[2*i:])))
		case U16:
			dst[i] = int64(binary.LittleEndian.Uint16(src[2*i:]))
		case I8:
			dst[i] = int64(int8(src[i]))
		case U8, BOOL:
			dst[i] = int64(src[i])
		default:
			return fmt.Errorf("safetensors: decode %s to int64: %w", dt, ErrUnsupportedDType)
		}
	}
	return nil
}

// DecodeInt32 converts the little-endian integers of dtype dt in src to int32
// in dst. dt may be any dtype DecodeInt64 takes; values outside the int32
// range are an error. len(src) must be len(dst) × dt.Size().
func DecodeInt32(dst []int32, src []byte, dt DType) error {
	if len(src) != len(dst)*dt.Size() || !dt.Valid() {
		return fmt.Errorf("safetensors: decode %s: %d bytes for %d int32 values", dt, len(src), len(dst))
	}
	if dt == I32 {
		for i := range dst {
			dst[i] = int32(binary.LittleEndian.Uint32(src[4*i:]))
		}
		return nil
	}
	sz := dt.Size()
	var one [1]int64
	for i := range dst {
		if err := DecodeInt64(one[:], src[i*sz:(i+1)*sz], dt); err != nil {
			return err
		}
		if one[0] < math.MinInt32 || one[0] > math.MaxInt32 {
			return fmt.Errorf("safetensors: decode %s: element %d = %d overflows int32", dt, i, one[0])
		}
		dst[i] = int32(one[0])
	}
	return nil
}

// EncodeInt64 writes src as little-endian I64 or I32 elements into dst
// (values outside the int32 range are an error for I32). len(dst) must be
// len(src) × dt.Size().
func EncodeInt64(dst []byte, src []int64, dt DType) error {
	if dt != I64 && dt != I32 {
		return fmt.Errorf("safetensors: encode int64 to %s: %w", dt, ErrUnsupportedDType)
	}
	if len(dst) != len(src)*dt.Size() {
		return fmt.Errorf("safetensors: encode %s: %d bytes for %d values, want %d", dt, len(dst), len(src), len(src)*dt.Size())
	}
	for i, v := range src {
		if dt == I64 {
			binary.LittleEndian.PutUint64(dst[8*i:], uint64(v))
			continue
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("safetensors: encode I32: element %d = %d overflows int32", i, v)
		}
		binary.LittleEndian.PutUint32(dst[4*i:], uint32(int32(v)))
	}
	return nil
}
