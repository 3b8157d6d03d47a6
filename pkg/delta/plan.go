package delta

import (
	"fmt"
	"math"

	"github.com/smt-go/smt/pkg/safetensors"
)

// patch is what Merge writes into one base tensor.
type patch struct {
	m          *Matrix
	dtype      safetensors.DType
	rows, cols int           // the base tensor's shape
	bands      map[int][]int // block row → indices of the blocks in it
}

// patchable reports whether merge can write float32 values into dtype.
func patchable(dt safetensors.DType) bool {
	switch dt {
	case safetensors.F32, safetensors.BF16, safetensors.F16, safetensors.F64:
		return true
	}
	return false
}

// planPatches checks every matrix of the delta against the base model and
// returns the patches by tensor name. It refuses a tensor the base lacks or
// that is not 2-D, a base dtype it cannot write, a block size that does not
// divide the matrix, a block outside the matrix, and non-finite values.
func planPatches(base *safetensors.Model, s int, mats []Matrix) (map[string]*patch, error) {
	plan := make(map[string]*patch, len(mats))
	for i := range mats {
		m := &mats[i]
		info, ok := base.Info(m.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %q of the delta is not in the base model", m.Name)
		}
		if len(info.Shape) != 2 {
			return nil, fmt.Errorf("tensor %q is not a 2-D matrix in the base model (shape %v)", m.Name, info.Shape)
		}
		if !patchable(info.DType) {
			return nil, fmt.Errorf("tensor %q has dtype %s in the base model; merge writes blocks into F32, BF16, F16 or F64 tensors only",
				m.Name, info.DType)
		}
		p := &patch{m: m, dtype: info.DType, rows: info.Shape[0], cols: info.Shape[1], bands: map[int][]int{}}
		if p.rows%s != 0 || p.cols%s != 0 {
			return nil, fmt.Errorf("block size %d does not divide tensor %q's shape [%d, %d]", s, m.Name, p.rows, p.cols)
		}
		gr, gc := p.rows/s, p.cols/s
		for b := range m.Rows {
			r, c := int(m.Rows[b]), int(m.Cols[b])
			if r >= gr || c >= gc {
				return nil, fmt.Errorf("block %d at (%d, %d) lies outside tensor %q: its shape [%d, %d] holds %d×%d blocks of %d×%d",
					b, r, c, m.Name, p.rows, p.cols, gr, gc, s, s)
			}
			for j, v := range m.Block(b, s) {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("tensor %q: block %d at (%d, %d) holds %v at row %d, column %d of the block",
						m.Name, b, r, c, v, j/s, j%s)
				}
			}
			p.bands[r] = append(p.bands[r], b)
		}
		plan[m.Name] = p
	}
	return plan, nil
}
