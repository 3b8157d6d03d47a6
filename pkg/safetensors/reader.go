package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// ErrNotFound is returned (wrapped) when a tensor name is not in a file or
// model.
var ErrNotFound = errors.New("tensor not found")

// Reader is what File and Model have in common: read access to named tensors.
type Reader interface {
	// Names returns the tensor names in storage order.
	Names() []string
	// Info returns a tensor's description.
	Info(name string) (TensorInfo, bool)
	// Bytes returns a tensor's raw little-endian bytes, without copying.
	Bytes(name string) ([]byte, error)
	// Float32 returns a tensor converted to a new []float32.
	Float32(name string) ([]float32, error)
	// ReadFloat32 converts a tensor into dst.
	ReadFloat32(name string, dst []float32) error
	// Metadata returns the "__metadata__" map.
	Metadata() map[string]string
	// Close releases the underlying files.
	Close() error
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Model)(nil)
)

// File is an open safetensors file, mapped read-only into memory. Its
// methods may be called from several goroutines at once, except Close.
//
// The mapping shares the file's pages: replacing the file by rename (as this
// package and atomicfile do) is safe, but truncating it in place while it is
// open makes reads of the lost pages crash the program (SIGBUS). The data
// buffer starts at DataOffset, a multiple of 8 for files written by this
// package or by Hugging Face, so tensors of those files are aligned to their
// element size.
type File struct {
	path    string
	data    []byte // the whole file, mapped
	buf     []byte // the data buffer after the header
	tensors []TensorInfo
	index   map[string]int
	meta    map[string]string
}

// Open maps the safetensors file at path and validates its header (see
// ParseHeader). The tensors' bytes are not read until asked for. Errors name
// the file, and the tensor where one is at fault.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, too short for the 8-byte header length", path, size)
	}
	var lenbuf [8]byte
	if _, err := io.ReadFull(f, lenbuf[:]); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenbuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: %s: header length %d exceeds the %d-byte limit (not a safetensors file?)",
			path, n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, fmt.Errorf("safetensors: %s: header length %d runs past the end of the %d-byte file (truncated?)",
			path, n, size)
	}
	data, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: mmap: %w", path, err)
	}
	tensors, meta, err := ParseHeader(data[8:8+n], size-8-int64(n))
	if err != nil {
		unmapFile(data)
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	sf := &File{
		path:    path,
		data:    data,
		buf:     data[8+n:],
		tensors: tensors,
		index:   make(map[string]int, len(tensors)),
		meta:    meta,
	}
	for i, t := range tensors {
		sf.index[t.Name] = i
	}
	return sf, nil
}

// Close unmaps the file. Slices returned by Bytes must not be used after it.
func (f *File) Close() error {
	if f.data == nil {
		return nil
	}
	err := unmapFile(f.data)
	f.data, f.buf = nil, nil
	if err != nil {
		return fmt.Errorf("safetensors: %s: munmap: %w", f.path, err)
	}
	return nil
}

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Metadata returns the header's "__metadata__" map, or nil if it has none.
// The map is shared: do not modify it.
func (f *File) Metadata() map[string]string { return f.meta }

// Names returns the tensor names in the order of their data in the file.
func (f *File) Names() []string {
	names := make([]string, len(f.tensors))
	for i, t := range f.tensors {
		names[i] = t.Name
	}
	return names
}

// Tensors returns the descriptions of all tensors in the order of their data
// in the file.
func (f *File) Tensors() []TensorInfo {
	out := slices.Clone(f.tensors)
	for i := range out {
		out[i].Shape = slices.Clone(out[i].Shape)
	}
	return out
}

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.tensors[i]
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

// DataOffset returns the position in the file of the first byte of the data
// buffer (8 + the header length); tensor offsets are relative to it.
func (f *File) DataOffset() int64 { return int64(len(f.data) - len(f.buf)) }

// Bytes returns the named tensor's raw little-endian bytes as a view into the
// mapped file: no copy is made. The slice is read-only (writing to it
// crashes the program) and valid until Close.
func (f *File) Bytes(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.buf[t.Offsets[0]:t.Offsets[1]:t.Offsets[1]], nil
}

// Float32 returns the named tensor converted to a new []float32. The tensor
// must be F32, F16, BF16 or F64.
func (f *File) Float32(name string) ([]float32, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, t.NumElements())
	return dst, f.ReadFloat32(name, dst)
}

// ReadFloat32 converts the named tensor into dst, whose length must equal
// the tensor's number of elements. The tensor must be F32, F16, BF16 or F64.
func (f *File) ReadFloat32(name string, dst []float32) error {
	t, err := f.lookup(name)
	if err != nil {
		return err
	}
	if len(dst) != t.NumElements() {
		return fmt.Errorf("safetensors: %s: tensor %q: destination holds %d values, shape %v has %d",
			f.path, name, len(dst), t.Shape, t.NumElements())
	}
	if !t.DType.IsFloat() {
		return fmt.Errorf("safetensors: %s: tensor %q: cannot convert %s to float32: %w",
			f.path, name, t.DType, ErrUnsupportedDType)
	}
	if err := DecodeFloat32(dst, f.buf[t.Offsets[0]:t.Offsets[1]], t.DType); err != nil {
		return fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return nil
}

// Int64s returns the named integer tensor (I64, I32, I16, I8, U32, U16, U8,
// BOOL, or U64 within range) as a new []int64.
func (f *File) Int64s(name string) ([]int64, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	dst := make([]int64, t.NumElements())
	if err := DecodeInt64(dst, f.buf[t.Offsets[0]:t.Offsets[1]], t.DType); err != nil {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return dst, nil
}

// Int32s returns the named integer tensor as a new []int32; values outside
// the int32 range are an error.
func (f *File) Int32s(name string) ([]int32, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	dst := make([]int32, t.NumElements())
	if err := DecodeInt32(dst, f.buf[t.Offsets[0]:t.Offsets[1]], t.DType); err != nil {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return dst, nil
}

func (f *File) lookup(name string) (*TensorInfo, error) {
	if f.data == nil {
		return nil, fmt.Errorf("safetensors: %s: file is closed", f.path)
	}
	i, ok := f.index[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, ErrNotFound)
	}
	return &f.tensors[i], nil
}
