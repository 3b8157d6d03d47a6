package safetensors

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// Tensor is a tensor's description and its raw little-endian data, for
// WriteFile and WriteModel.
type Tensor struct {
	// Info gives the name, dtype and shape; Offsets are ignored.
	Info TensorInfo
	// Data holds exactly Info.ByteSize() bytes.
	Data []byte
}

// Layout returns a copy of specs with Offsets set so that the tensors follow
// each other in the given order from offset 0. It rejects specs it cannot
// lay out: unknown dtypes, negative dimensions, a name used
// twice or the reserved name "__metadata__".
func Layout(specs []TensorInfo) ([]TensorInfo, error) {
	out := make([]TensorInfo, len(specs))
	seen := make(map[string]bool, len(specs))
	var off int64
	for i, s := range specs {
		if s.Name == metadataKey {
			return nil, fmt.Errorf("tensor name %q is reserved", s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("tensor %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		n, err := s.byteSize()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", s.Name, err)
		}
		out[i] = TensorInfo{Name: s.Name, DType: s.DType, Shape: slices.Clone(s.Shape), Offsets: [2]int64{off, off + n}}
		off += n
	}
	return out, nil
}

// Writer writes one safetensors file as a stream: the header first, computed
// from all tensor specs, then each tensor's data in spec order. The file
// appears under its final name only when Close succeeds; until then it is a
// hidden temporary file in the same directory, which Abort (or a failed
// Close) removes.
type Writer struct {
	path    string
	f       *atomicfile.File
	w       *bufio.Writer
	tensors []TensorInfo
	next    int   // index of the next tensor to write
	err     error // first write error; makes the Writer unusable
	done    bool  // Close or Abort was called
}

// NewWriter starts writing the safetensors file path with the given tensors,
// in the given order, and metadata (nil for none). It computes the offsets
// (see Layout), writes the header padded with spaces to a multiple of 8
// bytes, and returns a Writer that takes the tensors' data.
func NewWriter(path string, specs []TensorInfo, metadata map[string]string) (*Writer, error) {
	tensors, err := Layout(specs)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	header := EncodeHeader(tensors, metadata)
	if len(header) > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: %s: header would be %d bytes, more than the %d-byte limit",
			path, len(header), MaxHeaderSize)
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	w := &Writer{path: path, f: f, w: bufio.NewWriterSize(f, 1<<20), tensors: tensors}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	w.write(n[:])
	w.write(header)
	if w.err != nil {
		f.Abort()
		return nil, w.err
	}
	return w, nil
}

// Path returns the final path of the file.
func (w *Writer) Path() string { return w.path }

// Tensors returns the tensors of the file with their computed offsets.
func (w *Writer) Tensors() []TensorInfo { return slices.Clone(w.tensors) }

// Next returns the name of the tensor the Writer expects next, or "" when
// all have been written.
func (w *Writer) Next() string {
	if w.next >= len(w.tensors) {
		return ""
	}
	return w.tensors[w.next].Name
}

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.w.Write(p); err != nil {
		w.err = fmt.Errorf("safetensors: write %s: %w", w.path, err)
	}
}

// check verifies that name is the next tensor and returns it.
func (w *Writer) check(name string) (*TensorInfo, error) {
	switch {
	case w.done:
		return nil, fmt.Errorf("safetensors: %s: tensor %q: write after Close or Abort", w.path, name)
	case w.err != nil:
		return nil, w.err
	case w.next >= len(w.tensors):
		return nil, fmt.Errorf("safetensors: %s: tensor %q: all %d tensors are already written", w.path, name, len(w.tensors))
	}
	t := &w.tensors[w.next]
	if t.Name != name {
		return nil, fmt.Errorf("safetensors: %s: got tensor %q, expected %q next (tensors must come in spec order)",
			w.path, name, t.Name)
	}
	return t, nil
}

// WriteTensor writes the data of the named tensor, which must be the next one
// in spec order, with exactly shape × dtype size bytes. A wrong name or length
// is reported without changing the Writer; an I/O error makes every later
// call fail.
func (w *Writer) WriteTensor(name string, data []byte) error {
	t, err := w.check(name)
	if err != nil {
		return err
	}
	if n := int64(len(data)); n != t.ByteSize() {
		return fmt.Errorf("safetensors: %s: tensor %q: got %d bytes, shape %v × %s needs %d",
			w.path, name, n, t.Shape, t.DType, t.ByteSize())
	}
	w.write(data)
	if w.err != nil {
		return w.err
	}
	w.next++
	return nil
}

// WriteTensorFrom copies the data of the named tensor, which must be the next
// one in spec order, from r: exactly shape × dtype size bytes, read in
// pieces, so a tensor need not be in memory at once. If r ends early or
// fails, the Writer is unusable and Close removes the temporary file.
func (w *Writer) WriteTensorFrom(name string, r io.Reader) error {
	t, err := w.check(name)
	if err != nil {
		return err
	}
	n, err := io.CopyN(w.w, r, t.ByteSize())
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		w.err = fmt.Errorf("safetensors: %s: tensor %q: copied %d of %d bytes: %w", w.path, name, n, t.ByteSize(), err)
		return w.err
	}
	w.next++
	return nil
}

// finish checks that every tensor was written and flushes the buffer; the
// file stays under its temporary name.
func (w *Writer) finish() error {
	if w.done {
		return fmt.Errorf("safetensors: %s: Close after Close or Abort", w.path)
	}
	if w.err != nil {
		return w.err
	}
	if w.next < len(w.tensors) {
		w.err = fmt.Errorf("safetensors: %s: only %d of %d tensors written; %q is missing",
			w.path, w.next, len(w.tensors), w.tensors[w.next].Name)
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("safetensors: write %s: %w", w.path, err)
		return w.err
	}
	w.w = nil // release the buffer
	return nil
}

// commit publishes a finished file under its final name.
func (w *Writer) commit() error {
	w.done = true
	if err := w.f.Commit(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// Close checks that every tensor was written, then syncs the file and renames
// it to its final path. On any error the temporary file is removed and
// nothing appears at the path.
func (w *Writer) Close() error {
	if err := w.finish(); err != nil {
		w.Abort()
		return err
	}
	return w.commit()
}

// Abort discards the file: the temporary file is removed and nothing appears
// at the path. It does nothing after Close, so `defer w.Abort()` is safe.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.f.Abort()
}

// WriteFile writes tensors, in the given order, and metadata (nil for none)
// to the safetensors file path, atomically.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	specs := make([]TensorInfo, len(tensors))
	for i, t := range tensors {
		specs[i] = t.Info
	}
	w, err := NewWriter(path, specs, metadata)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, t := range tensors {
		if err := w.WriteTensor(t.Info.Name, t.Data); err != nil {
			return err
		}
	}
	return w.Close()
}
