package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cuda"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/train"
)

// RunOptions are a run's settings beyond the shape.
type RunOptions struct {
	Mode       string  // smt or full
	Budget     float64 // SMT: fraction of the 2-D parameters
	BlockSize  int
	NBlocks    int // SMT: blocks (0: from Budget)
	Select     string
	Seed       uint64
	Steps      int // timed steps (the median is reported)
	Warmup     int // untimed steps first
	PeakTFLOPs float64
	Phases     bool // time one more step phase by phase
	Accum      int  // micro-batches per step (the batch is split; 0 or 1: none)
	Std        float64
}

// Result is one run, as printed with -json (one object per line). The
// PyTorch peers print objects with the same field names.
type Result struct {
	Impl       string    `json:"impl"` // smt-go
	Mode       string    `json:"mode"` // smt or full
	Shape      Shape     `json:"shape"`
	Tokens     int       `json:"tokens"`  // per step
	Trained    int64     `json:"trained"` // trained values
	Blocks     int       `json:"blocks,omitempty"`
	BlockSize  int       `json:"block_size,omitempty"`
	Select     string    `json:"select,omitempty"`
	BlocksQKV  [3]int    `json:"blocks_qkv,omitempty"`
	Lowest     int       `json:"lowest_layer"`
	StepMS     float64   `json:"step_ms"` // median
	StepsMS    []float64 `json:"steps_ms"`
	TokensPerS float64   `json:"tokens_per_s"`
	Flops      Flops     `json:"flops"` // per step
	TFLOPs     float64   `json:"tflops"`
	PeakTFLOPs float64   `json:"peak_tflops"`
	MFU        float64   `json:"mfu"`
	// PeakMem is the backend's own counter (every buffer, the scratch arena
	// and the cuBLAS workspace) at its highest; DeviceUsed is cuMemGetInfo's
	// total − free at its highest seen after a step (every process, the
	// CUDA context included), DeviceUsedBase the same right after the
	// backend opened.
	PeakMem        int64              `json:"peak_mem_bytes"`
	DeviceUsed     int64              `json:"device_used_bytes"`
	DeviceUsedBase int64              `json:"device_used_base_bytes"`
	DeviceTotal    int64              `json:"device_total_bytes"`
	MemParts       map[string]int64   `json:"mem_parts"`
	PhaseMS        map[string]float64 `json:"phase_ms,omitempty"`
	Losses         []float64          `json:"losses"`
	Accum          int                `json:"accum"`
	Device         string             `json:"device"`
	InitS          float64            `json:"init_s"`
	Error          string             `json:"error,omitempty"`
}

// memSource is an in-memory data source for the loader.
type memSource []shards.Example

func (s memSource) Len() int                 { return len(s) }
func (s memSource) Get(i int) shards.Example { return s[i] }

// runMode runs one benchmark on be. A panic from the backend (out of
// memory, a failing kernel) is returned as an error.
func runMode(be *cuda.Backend, sh Shape, o RunOptions) (res Result, err error) {
	res = Result{Impl: "smt-go", Mode: o.Mode, Shape: sh, Tokens: sh.Tokens(), Device: be.Name(), Lowest: -1}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
			res.Error = err.Error()
		}
	}()
	mem0 := be.Memory()
	res.DeviceUsedBase, res.DeviceTotal = mem0.DeviceUsed, mem0.DeviceTotal
	res.PeakTFLOPs = o.PeakTFLOPs
	if res.PeakTFLOPs == 0 {
		res.PeakTFLOPs = datasheetPeak(deviceModel(be.Name()))
	}

	t0 := time.Now()
	m := llama.New(sh.Config(), be)
	initWeights(m, o.Seed, o.Std)
	be.Sync()
	res.InitS = time.Since(t0).Seconds()
	logf("%s %s: %s; weights initialised in %.1f s", sh.Name, o.Mode, m, res.InitS)
	be.ResetPeak() // forget the initialisation pool

	var tr *train.Trainable
	fp := FlopParams{Lowest: -1}
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
			return res, err
		}
		st := blockStats(m.Layout, tables)
		res.Blocks, res.BlockSize, res.Select = n, o.BlockSize, o.Select
		res.BlocksQKV, res.Lowest = [3]int{st.Q, st.K, st.V}, st.Lowest
		fp = FlopParams{Blocks: n, BlockSize: o.BlockSize, Lowest: st.Lowest}
		if tr, err = train.NewBlocks(m, tables); err != nil {
			return res, err
		}
		logf("%s smt: %d blocks of %d² (q %d, k %d, v %d; lowest layer %d), %s policy", sh.Name, n, o.BlockSize, st.Q, st.K, st.V, st.Lowest, o.Select)
	default:
		return res, fmt.Errorf("unknown mode %q (smt, full)", o.Mode)
	}
	res.Trained = int64(tr.N)
	res.Flops = StepFlops(sh, o.Mode, fp)

	r := rand.New(rand.NewPCG(o.Seed, 7))
	var src memSource
	for i := 0; i < sh.Batch; i++ {
		ex := shards.Example{Record: int64(i), IDs: make([]int32, sh.Seq), Mask: make([]uint8, sh.Seq)}
		for t := range ex.IDs {
			ex.IDs[t] = int32(r.IntN(sh.Vocab))
			ex.Mask[t] = 1
		}
		src = append(src, ex)
	}
	accum := max(o.Accum, 1)
	res.Accum = accum
	l, err := train.NewLoader(src, sh.Batch/accum, sh.Seq, false, o.Seed)
	if err != nil {
		return res, err
	}
	opt := train.DefaultOptions()
	opt.LR, opt.Schedule, opt.Steps, opt.Accum = 1e-5, "constant", o.Warmup+o.Steps+1, accum
	t, err := train.NewTrainer(m, tr, opt, l)
	if err != nil {
		return res, err
	}
	master, grads, optim := tr.Bytes()
	res.MemParts = map[string]int64{
		"params":       int64(m.Layout.Total) * int64(be.DType().Size()),
		"trainable":    master + grads + optim,
		"acts":         t.Acts().Bytes,
		"acts_scratch": t.Acts().ScratchBytes,
		"grad_scratch": t.Scratch().Bytes,
	}

	sample := func() {
		if mm := be.Memory(); mm.DeviceUsed > res.DeviceUsed {
			res.DeviceUsed = mm.DeviceUsed
		}
	}
	for i := 0; i < o.Warmup; i++ {
		st := t.TrainStep()
		be.Sync()
		res.Losses = append(res.Losses, st.Loss)
		sample()
	}
	for i := 0; i < o.Steps; i++ {
		start := time.Now()
		st := t.TrainStep()
		be.Sync()
		res.StepsMS = append(res.StepsMS, float64(time.Since(start).Microseconds())/1000)
		res.Losses = append(res.Losses, st.Loss)
		sample()
	}
	ms := append([]float64(nil), res.StepsMS...)
	sort.Float64s(ms)
	if len(ms) > 0 {
		res.StepMS = ms[len(ms)/2]
		res.TokensPerS = float64(sh.Tokens()) / (res.StepMS / 1000)
		res.TFLOPs = res.Flops.Total / (res.StepMS / 1000) / 1e12
		if res.PeakTFLOPs > 0 {
			res.MFU = res.TFLOPs / res.PeakTFLOPs
		}
	}
	if o.Phases {
		res.PhaseMS = phaseStep(be, t)
		sample()
	}
	res.PeakMem = be.Memory().Peak
	for _, x := range res.Losses {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			res.Error = fmt.Sprintf("loss is not finite (%v)", res.Losses)
			return res, nil // still report the timing
		}
	}
	return res, nil
}

// phaseStep runs one more training step with a device synchronisation
// after each phase and returns the milliseconds of each: forward, loss
// (cross-entropy and its gradient), backward (each summed over the step's
// micro-batches), optimizer (gradient norm, clipping, AdamW, writing the
// trained values into the weights).
func phaseStep(be *cuda.Backend, t *train.Trainer) map[string]float64 {
	m, tr := t.M, t.T
	ph := map[string]float64{}
	clock := time.Now()
	lap := func(name string) {
		be.Sync()
		ph[name] += float64(time.Since(clock).Microseconds()) / 1000
		clock = time.Now()
	}
	be.Zero(tr.Grad)
	var batches []*train.Batch
	total := 0
	for i := 0; i < max(t.Opt.Accum, 1); i++ {
		var b *train.Batch
		b, t.Pos = t.Loader.Next(t.Pos)
		batches = append(batches, b)
		total += b.Count
	}
	clock = time.Now()
	for _, b := range batches {
		a := t.Acts().View(b.B, b.T)
		m.Forward(a, b.IDs)
		lap("forward")
		m.LossSum(a, b.Targets, float32(1/float64(max(total, 1))))
		lap("loss")
		m.Backward(a, b.IDs, tr.Targets, t.Scratch())
		lap("backward")
	}
	norm := math.Sqrt(be.SumSquares(tr.Grad, tr.N))
	if c := t.Opt.Clip / (norm + 1e-6); t.Opt.Clip > 0 && c < 1 {
		be.Scale(tr.Grad, float32(c), tr.N)
	}
	be.AdamWStep(tr.Master, tr.Grad, tr.M, tr.V, tr.N, backend.AdamW{LR: float32(t.Opt.LR), Beta1: float32(t.Opt.Beta1),
		Beta2: float32(t.Opt.Beta2), Eps: float32(t.Opt.Eps), Step: t.Step + 1})
	tr.Sync()
	lap("optimizer")
	t.Step++
	return ph
}

var quiet bool

func logf(format string, args ...any) {
	if !quiet {
		fmt.Fprintf(stderr, "bench-gpu: "+format+"\n", args...)
	}
}
