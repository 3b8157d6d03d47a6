package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes (the limit of
// Hugging Face's own reader).
const MaxHeaderSize = 100_000_000

// metadataKey is the header key that holds the free-form string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	// Name is the tensor's key in the header, e.g. "model.layers.0.mlp.up_proj.weight".
	Name string
	// DType is the element type.
	DType DType
	// Shape lists the dimensions, outermost first; empty for a scalar.
	Shape []int
	// Offsets are [begin, end) byte offsets into the data buffer that follows
	// the header. Writers compute them; values passed in specs are ignored.
	Offsets [2]int64
}

// NumElements returns the product of the dimensions (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// ByteSize returns the number of bytes the tensor's data occupies:
// NumElements × DType.Size().
func (t TensorInfo) ByteSize() int64 { return int64(t.NumElements()) * int64(t.DType.Size()) }

// byteSize returns the tensor's byte length, or an error if the dtype is
// unknown, a dimension is negative, or the size overflows int64.
func (t TensorInfo) byteSize() (int64, error) {
	if !t.DType.Valid() {
		return 0, fmt.Errorf("unknown dtype %q", string(t.DType))
	}
	n := uint64(t.DType.Size())
	for _, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", t.Shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > 1<<62 {
			return 0, fmt.Errorf("shape %v × %s overflows", t.Shape, t.DType)
		}
		n = lo
	}
	return int64(n), nil
}

// ParseHeader parses and validates the JSON header of a safetensors file
// whose data buffer (everything after the header) is bufferLen bytes long.
//
// It returns the tensors sorted by offset (ties by name) and the
// "__metadata__" map (nil when the header has none). It rejects: invalid
// UTF-8; JSON that is malformed, not an object, or followed by anything but
// whitespace; duplicate keys; tensor entries that lack dtype, shape or
// data_offsets or give them the wrong JSON type; unknown dtypes; negative
// dimensions or offsets; begin > end; offsets past bufferLen; a byte length
// that differs from shape × dtype size; overlapping tensors; bytes of the
// buffer covered by no tensor; metadata values that are not strings. Unknown
// keys inside a tensor entry are ignored, as Hugging Face's reader does.
//
// Errors name the tensor at fault but not the file; Open adds the file name.
func ParseHeader(header []byte, bufferLen int64) (tensors []TensorInfo, meta map[string]string, err error) {
	if tensors, meta, err = parseJSONHeader(header); err != nil {
		return nil, nil, err
	}
	if err := validateLayout(tensors, bufferLen); err != nil {
		return nil, nil, err
	}
	return tensors, meta, nil
}

// parseJSONHeader decodes the header's JSON and checks its structure and
// types, leaving the offsets unchecked.
func parseJSONHeader(header []byte) (tensors []TensorInfo, meta map[string]string, err error) {
	if len(header) > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header is %d bytes, more than the %d-byte limit", len(header), MaxHeaderSize)
	}
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if err := expectDelim(dec, '{', "header"); err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for dec.More() {
		key, err := objectKey(dec, "header")
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			if key == metadataKey {
				return nil, nil, fmt.Errorf("%q appears twice in the header", metadataKey)
			}
			return nil, nil, fmt.Errorf("tensor %q appears twice in the header", key)
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = parseMetadata(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		t, err := parseTensor(dec, key)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		tensors = append(tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, jsonErr(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v", tok)
		}
		return nil, nil, fmt.Errorf("header has data after its JSON object: %w", err)
	}
	return tensors, meta, nil
}

// validateLayout checks each tensor's offsets against its shape and the
// buffer, sorts tensors by offset, and checks that they tile the buffer.
func validateLayout(tensors []TensorInfo, bufferLen int64) error {
	for _, t := range tensors {
		b, e := t.Offsets[0], t.Offsets[1]
		if b > e {
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] end before they begin", t.Name, b, e)
		}
		if e > bufferLen {
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] run past the end of the %d-byte data buffer (truncated file?)",
				t.Name, b, e, bufferLen)
		}
		need, err := t.byteSize()
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if e-b != need {
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] give %d bytes, shape %v × %s needs %d",
				t.Name, b, e, e-b, t.Shape, t.DType, need)
		}
	}
	slices.SortFunc(tensors, func(x, y TensorInfo) int {
		if c := cmpInt64(x.Offsets[0], y.Offsets[0]); c != 0 {
			return c
		}
		if c := cmpInt64(x.Offsets[1], y.Offsets[1]); c != 0 {
			return c
		}
		return strings.Compare(x.Name, y.Name)
	})
	var end int64
	prev := ""
	for _, t := range tensors {
		switch b := t.Offsets[0]; {
		case b < end:
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] overlap tensor %q, which ends at %d",
				t.Name, b, t.Offsets[1], prev, end)
		case b > end:
			return fmt.Errorf("tensor %q: data_offsets [%d,%d] leave a hole: bytes [%d,%d) of the data buffer belong to no tensor",
				t.Name, b, t.Offsets[1], end, b)
		}
		end, prev = t.Offsets[1], t.Name
	}
	if end != bufferLen {
		return fmt.Errorf("bytes [%d,%d) at the end of the data buffer belong to no tensor", end, bufferLen)
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseTensor reads one tensor entry object.
func parseTensor(dec *json.Decoder, name string) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	if err := expectDelim(dec, '{', "entry"); err != nil {
		return t, err
	}
	var haveDType, haveShape, haveOffsets bool
	seen := map[string]bool{}
	for dec.More() {
		key, err := objectKey(dec, "entry")
		if err != nil {
			return t, err
		}
		if seen[key] {
			return t, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "dtype":
			tok, err := dec.Token()
			s, ok := tok.(string)
			if err != nil || !ok {
				return t, errors.New(`"dtype" must be a string`)
			}
			if t.DType, err = ParseDType(s); err != nil {
				return t, err
			}
			haveDType = true
		case "shape":
			dims, err := intArray(dec, "shape", -1)
			if err != nil {
				return t, err
			}
			t.Shape = make([]int, len(dims))
			for i, d := range dims {
				t.Shape[i] = int(d)
			}
			haveShape = true
		case "data_offsets":
			offs, err := intArray(dec, "data_offsets", 2)
			if err != nil {
				return t, err
			}
			t.Offsets = [2]int64{offs[0], offs[1]}
			haveOffsets = true
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return t, jsonErr(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return t, jsonErr(err)
	}
	switch {
	case !haveDType:
		return t, errors.New(`entry has no "dtype"`)
	case !haveShape:
		return t, errors.New(`entry has no "shape"`)
	case !haveOffsets:
		return t, errors.New(`entry has no "data_offsets"`)
	}
	return t, nil
}

// intArray reads a JSON array of non-negative integers; want ≥ 0 fixes its
// length.
func intArray(dec *json.Decoder, what string, want int) ([]int64, error) {
	bad := fmt.Errorf("%q must be an array of non-negative integers", what)
	if want >= 0 {
		bad = fmt.Errorf("%q must be an array of %d non-negative integers", what, want)
	}
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, bad
	}
	var out []int64
	for dec.More() {
		tok, err := dec.Token()
		num, ok := tok.(json.Number)
		if err != nil || !ok {
			return nil, bad
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || v < 0 {
			if err == nil || strings.HasPrefix(string(num), "-") {
				return nil, fmt.Errorf("%s: %s is negative", bad, num)
			}
			return nil, fmt.Errorf("%s: %s is not one", bad, num)
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonErr(err)
	}
	if want >= 0 && len(out) != want {
		return nil, fmt.Errorf("%s: got %d", bad, len(out))
	}
	if what == "shape" {
		for _, d := range out {
			if d > 1<<62 {
				return nil, fmt.Errorf("shape dimension %d is too large", d)
			}
		}
	}
	return out, nil
}

// parseMetadata reads the "__metadata__" value: an object of strings, or null.
func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("%q must be an object of strings", metadataKey)
	}
	meta := map[string]string{}
	for dec.More() {
		key, err := objectKey(dec, metadataKey)
		if err != nil {
			return nil, err
		}
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("%q: key %q appears twice", metadataKey, key)
		}
		tok, err := dec.Token()
		s, ok := tok.(string)
		if err != nil || !ok {
			return nil, fmt.Errorf("%q: value of %q must be a string", metadataKey, key)
		}
		meta[key] = s
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonErr(err)
	}
	return meta, nil
}

// jsonErr reports a JSON syntax error; a premature end of input is an
// unexpected EOF.
func jsonErr(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("header is not valid JSON: %w", err)
}

// expectDelim reads one token and checks that it opens an object.
func expectDelim(dec *json.Decoder, d json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(err)
	}
	if tok != d {
		return fmt.Errorf("%s is not a JSON object (starts with %v)", what, tok)
	}
	return nil
}

// objectKey reads an object key.
func objectKey(dec *json.Decoder, what string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", jsonErr(err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%s: expected an object key, got %v", what, tok)
	}
	return key, nil
}

// EncodeHeader returns the JSON header for tensors (in the order given) and
// meta, padded with spaces to a multiple of 8 bytes, byte for byte as
// Hugging Face's writer lays it out: compact JSON, "__metadata__" first
// (omitted when meta is nil; its keys sorted), then each tensor's dtype,
// shape and data_offsets. The 8-byte length prefix is not included. It does
// not validate the offsets; ParseHeader does.
func EncodeHeader(tensors []TensorInfo, meta map[string]string) []byte {
	var b []byte
	b = append(b, '{')
	if meta != nil {
		b = appendJSONString(b, metadataKey)
		b = append(b, ":{"...)
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, meta[k])
		}
		b = append(b, '}')
	}
	for i, t := range tensors {
		if i > 0 || meta != nil {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(t.DType))
		b = append(b, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, t.Offsets[0], 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, t.Offsets[1], 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendJSONString appends s as a JSON string escaped the way serde_json
// (Hugging Face's writer) does: only '"', '\\' and control characters are
// escaped; everything else, non-ASCII included, is written as is. Invalid
// UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, `\"`...)
		case r == '\\':
			b = append(b, `\\`...)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
