package smttrain

import (
	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/llama"
)

// Memory is the training state's memory, in bytes.
type Memory struct {
	Master      int64 `json:"master"`      // float32 copies of the trained values
	Gradients   int64 `json:"gradients"`   // float32 gradients of the trained values
	Optimizer   int64 `json:"optimizer"`   // AdamW moments
	Activations int64 `json:"activations"` // activations saved for the backward
	Scratch     int64 `json:"scratch"`     // buffers shared between layers, backward temporaries, logits
	Weights     int64 `json:"weights"`     // the model's weights
}

// Total sums every part.
func (m Memory) Total() int64 {
	return m.Master + m.Gradients + m.Optimizer + m.Activations + m.Scratch + m.Weights
}

// countingBackend allocates nothing: it only lets the model plan its
// buffers, so the memory of a configuration can be computed without having
// it.
type countingBackend struct {
	backend.Backend
	dt backend.DType
}

type fakeBuf struct {
	n  int
	dt backend.DType
}

func (b fakeBuf) Len() int             { return b.n }
func (b fakeBuf) DType() backend.DType { return b.dt }

func (c countingBackend) DType() backend.DType                      { return c.dt }
func (c countingBackend) Alloc(dt backend.DType, n int) backend.Buf { return fakeBuf{n, dt} }
func (c countingBackend) Slice(b backend.Buf, off, n int) backend.Buf {
	return fakeBuf{n, b.DType()}
}
func (c countingBackend) Free(backend.Buf)                                    {}
func (c countingBackend) Upload(backend.Buf, []float32)                       {}
func (c countingBackend) Download([]float32, backend.Buf)                     {}
func (c countingBackend) Zero(backend.Buf)                                    {}
func (c countingBackend) Copy2D(backend.Buf, int, backend.Buf, int, int, int) {}

// FullFineTuningMemory returns what full fine-tuning of every parameter of
// the model would need on a backend of element type dt, for batches of B×T
// tokens: float32 master copies (only where weights are not float32),
// gradients and AdamW moments of every parameter, and all activations.
func FullFineTuningMemory(cfg *llama.Config, dt backend.DType, B, T int) Memory {
	m := llama.New(cfg, countingBackend{dt: dt})
	P := int64(m.Layout.Total)
	a := m.NewTrainActs(B, T, nil)
	s := m.NewGradScratch(B * T)
	mem := Memory{Gradients: 4 * P, Optimizer: 8 * P, Activations: a.Bytes, Scratch: a.ScratchBytes + s.Bytes, Weights: P * int64(dt.Size())}
	if dt != backend.F32 {
		mem.Master = 4 * P
	}
	return mem
}
