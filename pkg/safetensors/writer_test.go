package safetensors

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func specs3() []TensorInfo {
	return []TensorInfo{
		{Name: "a", DType: F32, Shape: []int{2}},
		{Name: "b", DType: BF16, Shape: []int{3}},
		{Name: "c", DType: I64, Shape: []int{1}},
	}
}

func TestWriterOrderAndLength(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.safetensors")
	w, err := NewWriter(p, specs3(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	wantOffsets := [][2]int64{{0, 8}, {8, 14}, {14, 22}}
	for i, tt := range w.Tensors() {
		if tt.Offsets != wantOffsets[i] {
			t.Errorf("%s offsets %v, want %v", tt.Name, tt.Offsets, wantOffsets[i])
		}
	}
	wantErr(t, w.WriteTensor("b", make([]byte, 6)), p, `got tensor "b", expected "a" next`)
	wantErr(t, w.WriteTensor("a", make([]byte, 7)), p, `tensor "a": got 7 bytes, shape [2] × F32 needs 8`)
	if err := w.WriteTensor("a", f32Bytes(1, 2)); err != nil {
		t.Fatal(err)
	}
	if w.Next() != "b" {
		t.Errorf("Next() = %q, want b", w.Next())
	}
	if err := w.WriteTensorFrom("b", bytes.NewReader(make([]byte, 100))); err != nil {
		t.Fatal(err) // copies exactly 6 of the 100 bytes
	}
	if err := w.WriteTensor("c", make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.WriteTensor("d", nil), `tensor "d": all 3 tensors are already written`)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.WriteTensor("a", nil), "after Close")
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Names(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("Names() = %v", got)
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"w.safetensors"}) {
		t.Errorf("directory holds %v", got)
	}
}

func TestWriterRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.safetensors")
	for _, c := range []struct {
		specs []TensorInfo
		want  string
	}{
		{[]TensorInfo{{Name: "a", DType: F32}, {Name: "a", DType: F32}}, `tensor "a" is listed twice`},
		{[]TensorInfo{{Name: "__metadata__", DType: F32}}, "reserved"},
		{[]TensorInfo{{Name: "a", DType: "F31"}}, `tensor "a": unknown dtype "F31"`},
		{[]TensorInfo{{Name: "a", DType: F32, Shape: []int{-1}}}, `tensor "a": shape [-1] has a negative dimension`},
	} {
		_, err := NewWriter(p, c.specs, nil)
		wantErr(t, err, p, c.want)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("directory holds %v", got)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

// TestInterruptedWrite: Abort, a failing source and an incomplete Close all
// leave nothing at the destination (an older file there stays intact) and no
// temporary file.
func TestInterruptedWrite(t *testing.T) {
	for _, c := range []struct {
		name      string
		interrupt func(t *testing.T, w *Writer) error
		want      string
	}{
		{"abort", func(t *testing.T, w *Writer) error {
			w.WriteTensor("a", f32Bytes(1, 2))
			w.Abort()
			return w.Close()
		}, "after Close or Abort"},
		{"failing reader", func(t *testing.T, w *Writer) error {
			w.WriteTensor("a", f32Bytes(1, 2))
			wantErr(t, w.WriteTensorFrom("b", &failingReader{n: 3}), `tensor "b": copied 3 of 6 bytes: disk on fire`)
			wantErr(t, w.WriteTensor("c", make([]byte, 8)), "disk on fire")
			return w.Close()
		}, "disk on fire"},
		{"short reader", func(t *testing.T, w *Writer) error {
			w.WriteTensor("a", f32Bytes(1, 2))
			w.WriteTensorFrom("b", bytes.NewReader(make([]byte, 2)))
			return w.Close()
		}, "unexpected EOF"},
		{"missing tensor", func(t *testing.T, w *Writer) error {
			w.WriteTensor("a", f32Bytes(1, 2))
			return w.Close()
		}, `only 1 of 3 tensors written; "b" is missing`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "model.safetensors")
			fresh := filepath.Join(dir, "fresh.safetensors")
			old := []byte("old content")
			if err := os.WriteFile(p, old, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{p, fresh} {
				w, err := NewWriter(path, specs3(), nil)
				if err != nil {
					t.Fatal(err)
				}
				wantErr(t, c.interrupt(t, w), c.want)
			}
			if got, _ := os.ReadFile(p); string(got) != string(old) {
				t.Errorf("destination changed to %q", got)
			}
			if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"model.safetensors"}) {
				t.Errorf("directory holds %v, want only the old model.safetensors", got)
			}
		})
	}
}

// TestWriterStreams writes a tensor larger than the Writer's buffer from a
// reader and reads it back.
func TestWriterStreams(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.safetensors")
	n := 3<<20 + 5
	w, err := NewWriter(p, []TensorInfo{{Name: "big", DType: U8, Shape: []int{n}}, {Name: "tail", DType: F32, Shape: []int{1}}}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	pattern := func() io.Reader {
		return io.LimitReader(&counter{}, int64(n))
	}
	if err := w.WriteTensorFrom("big", pattern()); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("tail", f32Bytes(7)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := f.Bytes("big")
	want, _ := io.ReadAll(pattern())
	if !bytes.Equal(b, want) {
		t.Error("streamed tensor differs")
	}
}

type counter struct{ i byte }

func (c *counter) Read(p []byte) (int, error) {
	for k := range p {
		p[k] = c.i
		c.i = c.i*31 + 7
	}
	return len(p), nil
}
