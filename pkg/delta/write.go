package delta

import (
	"encoding/binary"
	"fmt"

	"github.com/smt-go/smt/pkg/safetensors"
)

// Write writes a delta file at path, atomically: the matrices in the
// model's layout order (whatever order mats has; blocks keep their order
// within a matrix), each as NAME::blocks then NAME::index, and meta in the
// header. The same meta and mats always give the same bytes. It checks meta
// and every matrix first (see Read for the rules) and writes nothing when
// one is wrong.
func Write(path string, meta Meta, mats []Matrix) error {
	if err := meta.validate(); err != nil {
		return fmt.Errorf("delta: write %s: %w", path, err)
	}
	if len(mats) == 0 {
		return fmt.Errorf("delta: write %s: no matrices", path)
	}
	s := meta.BlockSize
	seen := map[string]bool{}
	for i := range mats {
		if err := mats[i].check(s); err != nil {
			return fmt.Errorf("delta: write %s: %w", path, err)
		}
		if seen[mats[i].Name] {
			return fmt.Errorf("delta: write %s: tensor %q is given twice", path, mats[i].Name)
		}
		seen[mats[i].Name] = true
	}
	mats = sortLayout(mats)
	specs := make([]safetensors.TensorInfo, 0, 2*len(mats))
	for _, m := range mats {
		k := m.Len()
		specs = append(specs,
			safetensors.TensorInfo{Name: m.Name + BlocksSuffix, DType: safetensors.F32, Shape: []int{k, s, s}},
			safetensors.TensorInfo{Name: m.Name + IndexSuffix, DType: safetensors.I32, Shape: []int{k, 2}})
	}
	w, err := safetensors.NewWriter(path, specs, meta.encode())
	if err != nil {
		return fmt.Errorf("delta: %w", err)
	}
	defer w.Abort()
	var buf []byte
	for _, m := range mats {
		buf = grow(buf, 4*len(m.Values))
		if err := safetensors.EncodeFloat32(buf, m.Values, safetensors.F32); err != nil {
			return fmt.Errorf("delta: write %s: tensor %q: %w", path, m.Name, err)
		}
		if err := w.WriteTensor(m.Name+BlocksSuffix, buf); err != nil {
			return fmt.Errorf("delta: %w", err)
		}
		buf = grow(buf, 8*m.Len())
		for i := range m.Rows {
			binary.LittleEndian.PutUint32(buf[8*i:], uint32(m.Rows[i]))
			binary.LittleEndian.PutUint32(buf[8*i+4:], uint32(m.Cols[i]))
		}
		if err := w.WriteTensor(m.Name+IndexSuffix, buf); err != nil {
			return fmt.Errorf("delta: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("delta: %w", err)
	}
	return nil
}

// grow returns a byte slice of length n, reusing buf's memory when it is
// large enough.
func grow(buf []byte, n int) []byte {
	if cap(buf) < n {
		return make([]byte, n)
	}
	return buf[:n]
}
