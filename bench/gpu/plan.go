package main

import (
	"fmt"
	"io"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/train"
)

// countingBackend allocates nothing: it counts the bytes the model code asks
// for, so that -plan can tell what a run will hold on the device without a
// GPU. Only the operations the allocation code path calls are implemented;
// any other call panics (the embedded interface is nil).
type countingBackend struct {
	backend.Backend
	bytes, peak int64
}

type countBuf struct {
	n  int
	dt backend.DType
}

func (b *countBuf) Len() int             { return b.n }
func (b *countBuf) DType() backend.DType { return b.dt }

func (c *countingBackend) Name() string         { return "plan" }
func (c *countingBackend) DType() backend.DType { return backend.BF16 }
func (c *countingBackend) Alloc(dt backend.DType, n int) backend.Buf {
	c.bytes += int64(n*dt.Size()+255) &^ 255 // the CUDA backend's 256-byte granules
	c.peak = max(c.peak, c.bytes)
	return &countBuf{n: n, dt: dt}
}
func (c *countingBackend) Slice(b backend.Buf, off, n int) backend.Buf {
	return &countBuf{n: n, dt: b.DType()}
}
func (c *countingBackend) Free(b backend.Buf)                                    {}
func (c *countingBackend) Upload(dst backend.Buf, src []float32)                 {}
func (c *countingBackend) Zero(b backend.Buf)                                    {}
func (c *countingBackend) Sync()                                                 {}
func (c *countingBackend) Cast(dst, src backend.Buf, n int)                      {}
func (c *countingBackend) GatherBlocks(dst, w backend.Buf, t backend.BlockTable) {}

// Plan is what a run would allocate, by part, in bytes.
type Plan struct {
	Mode  string           `json:"mode"`
	Parts map[string]int64 `json:"parts"`
	Total int64            `json:"total"` // without the cuBLAS workspace and scratch arena
}

// planMode computes a run's allocations without a device: the parameters,
// the trained values (masters, gradients, AdamW moments), the saved
// activations and the scratch buffers, exactly as runMode allocates them.
func planMode(sh Shape, o RunOptions) (Plan, error) {
	be := &countingBackend{}
	m := llama.New(sh.Config(), be)
	p := Plan{Mode: o.Mode, Parts: map[string]int64{"params": be.bytes}}
	before := be.bytes
	var tr *train.Trainable
	switch o.Mode {
	case "full":
		all := make([]int, len(m.Layout.Tensors))
		for i := range all {
			all[i] = i
		}
		tr = train.NewFull(m, all, false)
	case "smt":
		n := o.NBlocks
		if n == 0 {
			n = BudgetBlocks(sh, o.Budget, o.BlockSize)
		}
		tables, err := SelectBlocks(sh, m.Layout, n, o.BlockSize, o.Select, o.Seed)
		if err != nil {
			return p, err
		}
		if tr, err = train.NewBlocks(m, tables); err != nil {
			return p, err
		}
	default:
		return p, fmt.Errorf("unknown mode %q", o.Mode)
	}
	p.Parts["trainable"] = be.bytes - before
	before = be.bytes
	micro := sh.Batch / max(o.Accum, 1)
	a := m.NewTrainActs(micro, sh.Seq, tr.Targets)
	p.Parts["acts"], p.Parts["acts_scratch"] = a.Bytes, a.ScratchBytes
	p.Parts["rope"] = be.bytes - before - a.Bytes - a.ScratchBytes // rounding and RoPE tables
	s := m.NewGradScratch(micro * sh.Seq)
	p.Parts["grad_scratch"] = s.Bytes
	p.Total = be.bytes
	return p, nil
}

// writePlans prints the plans of the modes as a table, with the SMT ÷ full
// ratio when both are there.
func writePlans(w io.Writer, sh Shape, accum int, plans []Plan) {
	acc := ""
	if accum > 1 {
		acc = fmt.Sprintf(" in %d micro-batches", accum)
	}
	fmt.Fprintf(w, "Planned device memory (our buffers; add 32 MiB cuBLAS workspace, the scratch arena and the CUDA context), %s, batch %d × %d%s:\n\n", sh.Name, sh.Batch, sh.Seq, acc)
	fmt.Fprintln(w, "| mode | params | trained state | saved activations | shared activations | backward scratch | total |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	byMode := map[string]int64{}
	for _, p := range plans {
		byMode[p.Mode] = p.Total
		fmt.Fprintf(w, "| %s | %.2f GiB | %.2f GiB | %.2f GiB | %.2f GiB | %.2f GiB | %.2f GiB |\n", p.Mode, gib(p.Parts["params"]),
			gib(p.Parts["trainable"]), gib(p.Parts["acts"]), gib(p.Parts["acts_scratch"]), gib(p.Parts["grad_scratch"]), gib(p.Total))
	}
	if byMode["smt"] > 0 && byMode["full"] > 0 {
		fmt.Fprintf(w, "\nSMT ÷ full: %.1f%%\n", 100*float64(byMode["smt"])/float64(byMode["full"]))
	}
}
