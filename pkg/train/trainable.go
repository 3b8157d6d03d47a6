package train

import (
	"fmt"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/llama"
)

// Trainable is the set of values an optimizer updates: one flat float32
// master buffer, its gradient and the AdamW moments, and how the values map
// onto the model's weights.
//
// Full training of some tensors concatenates those tensors (layout order)
// into the master buffer; SMT training holds the selected blocks of every
// matrix, block after block ([k, S, S] per matrix, matrices in layout
// order). After each update Sync writes the master values into the model.
type Trainable struct {
	N       int         // number of trained values
	Master  backend.Buf // F32 [N]
	Grad    backend.Buf // F32 [N]
	M, V    backend.Buf // F32 [N] AdamW moments (nil when Frozen)
	Frozen  bool        // gradients only, no updates (warm-up with --update none)
	Targets *llama.GradTargets
	Parts   []Part

	m *llama.Model
}

// Part is the piece of the master buffer that belongs to one tensor.
type Part struct {
	Tensor int                 // index in Layout.Tensors
	Offset int                 // first value in the master buffer
	Size   int                 // values
	Blocks *backend.BlockTable // nil for a whole tensor
}

// NewFull returns a Trainable over whole tensors (indices into
// m.Layout.Tensors).
func NewFull(m *llama.Model, tensors []int, frozen bool) *Trainable {
	tr := &Trainable{m: m, Frozen: frozen, Targets: m.NewGradTargets()}
	for _, i := range tensors {
		t := &m.Layout.Tensors[i]
		tr.Parts = append(tr.Parts, Part{Tensor: i, Offset: tr.N, Size: t.Size})
		tr.N += t.Size
	}
	tr.alloc()
	for _, p := range tr.Parts {
		tr.Targets.Dense[p.Tensor] = m.BE.Slice(tr.Grad, p.Offset, p.Size)
	}
	tr.load()
	return tr
}

// NewBlocks returns a Trainable over the selected blocks of some matrices:
// tables[i] lists the blocks of tensor i (indices into m.Layout.Tensors).
func NewBlocks(m *llama.Model, tables map[int]backend.BlockTable) (*Trainable, error) {
	tr := &Trainable{m: m, Targets: m.NewGradTargets()}
	for i := range m.Layout.Tensors { // layout order, whatever the map order
		tb, ok := tables[i]
		if !ok || tb.Len() == 0 {
			continue
		}
		t := tb
		n := tb.Len() * tb.Size * tb.Size
		tr.Parts = append(tr.Parts, Part{Tensor: i, Offset: tr.N, Size: n, Blocks: &t})
		tr.N += n
	}
	if tr.N == 0 {
		return nil, fmt.Errorf("train: no blocks to train")
	}
	tr.alloc()
	for _, p := range tr.Parts {
		tr.Targets.Blocks[p.Tensor] = &llama.BlockGrads{Table: *p.Blocks, Grad: m.BE.Slice(tr.Grad, p.Offset, p.Size)}
	}
	if err := tr.Targets.Validate(m.Layout); err != nil {
		return nil, err
	}
	tr.load()
	return tr, nil
}

func (tr *Trainable) alloc() {
	be := tr.m.BE
	tr.Master = be.Alloc(backend.F32, tr.N)
	tr.Grad = be.Alloc(backend.F32, tr.N)
	if !tr.Frozen {
		tr.M = be.Alloc(backend.F32, tr.N)
		tr.V = be.Alloc(backend.F32, tr.N)
	}
}

func (tr *Trainable) part(p Part) (master, weight backend.Buf) {
	be := tr.m.BE
	t := &tr.m.Layout.Tensors[p.Tensor]
	return be.Slice(tr.Master, p.Offset, p.Size), be.Slice(tr.m.Params, t.Offset, t.Size)
}

// load copies the model's current values into the master buffer.
func (tr *Trainable) load() {
	for _, p := range tr.Parts {
		master, w := tr.part(p)
		if p.Blocks != nil {
			tr.m.BE.GatherBlocks(master, w, *p.Blocks)
		} else {
			tr.m.BE.Cast(master, w, p.Size)
		}
	}
}

// Sync writes the master values into the model's weights.
func (tr *Trainable) Sync() {
	for _, p := range tr.Parts {
		master, w := tr.part(p)
		if p.Blocks != nil {
			tr.m.BE.ScatterBlocks(w, master, *p.Blocks)
		} else {
			tr.m.BE.Cast(w, master, p.Size)
		}
	}
}

// Bytes reports the memory of the trained state: master values, gradients
// and optimizer moments, in bytes (float32 each).
func (tr *Trainable) Bytes() (master, grads, optimizer int64) {
	master = 4 * int64(tr.N)
	grads = 4 * int64(tr.N)
	if !tr.Frozen {
		optimizer = 8 * int64(tr.N)
	}
	return
}
