package delta

import (
	"fmt"
	"slices"
	"strings"

	"github.com/smt-go/smt/pkg/safetensors"
)

// Read reads and validates the delta file at path. It returns the matrices
// in the file's order. It rejects, with an error naming the file and the
// tensor: a file that is not safetensors or is damaged; metadata without
// smt.format = "smt-delta/1" or with a missing or malformed field (see
// Meta); a tensor whose name does not end in ::blocks or ::index; a
// ::blocks without its ::index or the other way round; a ::blocks that is
// not F32 [k, S, S] with S the metadata's block size; an ::index that is
// not I32 [k, 2] with the same k; no blocks; negative or repeated block
// positions; a file with no matrices.
func Read(path string) (Meta, []Matrix, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("delta: %w", err)
	}
	defer f.Close()
	meta, err := decodeMeta(f.Metadata())
	if err != nil {
		return Meta{}, nil, fmt.Errorf("delta: %s: %w", path, err)
	}
	mats, err := readMatrices(f, meta.BlockSize)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("delta: %s: %w", path, err)
	}
	return meta, mats, nil
}

// pair is the two tensors of one matrix.
type pair struct {
	blocks, index *safetensors.TensorInfo
}

// readMatrices pairs the tensors of f and reads each matrix.
func readMatrices(f *safetensors.File, s int) ([]Matrix, error) {
	tensors := f.Tensors()
	pairs := map[string]*pair{}
	var order []string // matrix names, in the order of their first tensor
	for i := range tensors {
		t := &tensors[i]
		name, isBlocks := strings.CutSuffix(t.Name, BlocksSuffix)
		if !isBlocks {
			var isIndex bool
			if name, isIndex = strings.CutSuffix(t.Name, IndexSuffix); !isIndex {
				return nil, fmt.Errorf("tensor %q: name does not end in %s or %s", t.Name, BlocksSuffix, IndexSuffix)
			}
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		p := pairs[name]
		if p == nil {
			p = &pair{}
			pairs[name] = p
			order = append(order, name)
		}
		if isBlocks {
			p.blocks = t
		} else {
			p.index = t
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no matrices")
	}
	mats := make([]Matrix, 0, len(order))
	for _, name := range order {
		m, err := readMatrix(f, name, pairs[name], s)
		if err != nil {
			return nil, err
		}
		mats = append(mats, m)
	}
	return mats, nil
}

// readMatrix checks the shapes of one matrix's tensors and reads them.
func readMatrix(f *safetensors.File, name string, p *pair, s int) (Matrix, error) {
	switch {
	case p.index == nil:
		return Matrix{}, fmt.Errorf("tensor %q has no %q beside it", name+BlocksSuffix, name+IndexSuffix)
	case p.blocks == nil:
		return Matrix{}, fmt.Errorf("tensor %q has no %q beside it", name+IndexSuffix, name+BlocksSuffix)
	}
	b, x := p.blocks, p.index
	if b.DType != safetensors.F32 {
		return Matrix{}, fmt.Errorf("tensor %q: dtype %s, want F32", b.Name, b.DType)
	}
	if len(b.Shape) != 3 {
		return Matrix{}, fmt.Errorf("tensor %q: shape %v, want [k, %d, %d]", b.Name, b.Shape, s, s)
	}
	if b.Shape[1] != b.Shape[2] {
		return Matrix{}, fmt.Errorf("tensor %q: shape %v: blocks are not square", b.Name, b.Shape)
	}
	if b.Shape[1] != s {
		return Matrix{}, fmt.Errorf("tensor %q: shape %v: blocks are %d×%d but metadata %s is %d",
			b.Name, b.Shape, b.Shape[1], b.Shape[2], keyBlockSize, s)
	}
	k := b.Shape[0]
	if k == 0 {
		return Matrix{}, fmt.Errorf("tensor %q: shape %v holds no blocks", b.Name, b.Shape)
	}
	if x.DType != safetensors.I32 {
		return Matrix{}, fmt.Errorf("tensor %q: dtype %s, want I32", x.Name, x.DType)
	}
	if !slices.Equal(x.Shape, []int{k, 2}) {
		return Matrix{}, fmt.Errorf("tensor %q: shape %v, want [%d, 2] to match %d blocks in %q",
			x.Name, x.Shape, k, k, b.Name)
	}
	vals, err := f.Float32(b.Name)
	if err != nil {
		return Matrix{}, err
	}
	idx, err := f.Int32s(x.Name)
	if err != nil {
		return Matrix{}, err
	}
	m := Matrix{Name: name, Rows: make([]int32, k), Cols: make([]int32, k), Values: vals}
	for i := range k {
		m.Rows[i], m.Cols[i] = idx[2*i], idx[2*i+1]
	}
	if err := checkPositions(x.Name, m.Rows, m.Cols); err != nil {
		return Matrix{}, err
	}
	return m, nil
}
