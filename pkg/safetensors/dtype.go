package safetensors

import "fmt"

// DType is a safetensors element type, spelled as in the header ("F32",
// "BF16", ...).
type DType string

// The element types of the safetensors format. F32, F16, BF16, I32 and I64
// are the ones this project computes with; the others are recognised so that
// files holding them open, list and copy, but DecodeFloat32 and EncodeFloat32
// reject them with ErrUnsupportedDType.
const (
	F64     DType = "F64"     // IEEE 754 binary64
	F32     DType = "F32"     // IEEE 754 binary32
	F16     DType = "F16"     // IEEE 754 binary16
	BF16    DType = "BF16"    // bfloat16: the top 16 bits of a binary32
	F8E4M3  DType = "F8_E4M3" // 8-bit float, 4 exponent and 3 mantissa bits
	F8E5M2  DType = "F8_E5M2" // 8-bit float, 5 exponent and 2 mantissa bits
	F8E8M0  DType = "F8_E8M0" // 8-bit power-of-two scale (MX formats)
	I64     DType = "I64"     // signed 64-bit integer
	I32     DType = "I32"     // signed 32-bit integer
	I16     DType = "I16"     // signed 16-bit integer
	I8      DType = "I8"      // signed 8-bit integer
	U64     DType = "U64"     // unsigned 64-bit integer
	U32     DType = "U32"     // unsigned 32-bit integer
	U16     DType = "U16"     // unsigned 16-bit integer
	U8      DType = "U8"      // unsigned 8-bit integer
	BOOL    DType = "BOOL"    // one byte per element, 0 or 1
	C64     DType = "C64"     // complex64: two binary32
	invalid DType = ""
)

var dtypeSizes = map[DType]int{
	F64: 8, F32: 4, F16: 2, BF16: 2, F8E4M3: 1, F8E5M2: 1, F8E8M0: 1,
	I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, C64: 8,
}

// Size returns the number of bytes of one element, or 0 for a dtype the
// format does not define.
func (d DType) Size() int { return dtypeSizes[d] }

// Valid reports whether d is a dtype of the safetensors format.
func (d DType) Valid() bool { return d.Size() > 0 }

// IsFloat reports whether DecodeFloat32 and EncodeFloat32 convert d
// (F64, F32, F16 and BF16).
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// String returns the dtype's name as written in headers.
func (d DType) String() string { return string(d) }

// ParseDType returns the DType named s, or an error for a name the format does
// not define.
func ParseDType(s string) (DType, error) {
	d := DType(s)
	if !d.Valid() {
		return invalid, fmt.Errorf("unknown dtype %q", s)
	}
	return d, nil
}
