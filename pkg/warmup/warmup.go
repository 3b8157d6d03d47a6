// Package warmup is the warm-up stage: a short run over the training shards
// that sums, per weight matrix, the gradients of the matrices SMT may
// select from, and scores every square block of them (scores.arrow).
//
// Two modes: Update "none" computes every step's gradients at the base
// weights (nothing is updated; only the scored matrices get gradient
// buffers, so memory stays close to SMT's own); Update "adamw" is the
// released SMT code's warm-up, full fine-tuning of every parameter with the
// scored gradients summed before clipping, and can hand the warmed model on
// (SaveWeights).
package warmup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/memstat"
	"github.com/smt-go/smt/pkg/scores"
	"github.com/smt-go/smt/pkg/train"
)

// Options configure a warm-up run.
type Options struct {
	Model   string // Hugging Face model directory
	Shards  string // shard directory written by tokenize
	Out     string // scores.arrow to write
	Metrics string // metrics.jsonl to write ("" for none)

	Steps  int // optimizer steps (each of Accum micro-batches)
	Batch  int // sequences per micro-batch
	MaxLen int // longest sequence allowed (0: the model's max_position_embeddings)
	Pack   bool
	Seed   int64

	Update      string // "none" or "adamw"
	Opt         train.Options
	Kinds       []llama.Kind // matrices to score (q, k, v by default)
	BlockSize   int
	SaveWeights string // with Update adamw: write the warmed model here

	// Comm, when set, makes the run data parallel: each rank reads its
	// share of every batch, the gradients are summed over ranks, and rank 0
	// writes the outputs.
	Comm train.Reducer
}

// Result summarises a run.
type Result struct {
	Blocks         int
	Steps          int
	Tokens         int64
	Targets        int64
	FirstLoss      float64
	LastLoss       float64
	AccumBytes     int64 // gradient-sum accumulators
	GradBytes      int64 // per-step gradients
	OptimizerBytes int64
	ActBytes       int64
	PeakRSS        int64
}

// ParseKinds parses a comma-separated list of matrix kinds (q,k,v,o,gate,up,down).
func ParseKinds(s string) ([]llama.Kind, error) {
	var out []llama.Kind
	seen := map[llama.Kind]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, err := llama.ParseKind(f)
		if err != nil {
			return nil, err
		}
		if !k.IsLinear() {
			return nil, fmt.Errorf("%q is not a weight matrix SMT can select from (want q, k, v, o, gate, up, down)", f)
		}
		if !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no matrices to score")
	}
	return out, nil
}

// CheckBlockSize verifies that the block size divides every scored
// matrix's dimensions.
func CheckBlockSize(m *llama.Model, kinds []llama.Kind, S int) error {
	if S <= 0 {
		return fmt.Errorf("block size %d must be positive", S)
	}
	for _, k := range kinds {
		out, in := m.LinearShape(k)
		if out%S != 0 || in%S != 0 {
			return fmt.Errorf("block size %d does not divide the %s matrix [%d, %d] (choose a divisor of both, e.g. %d)", S, k, out, in, gcd(out, in))
		}
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Run performs the warm-up on the model m (already loaded on its backend)
// and writes the scores. Nothing is written when it fails or ctx is
// cancelled.
func Run(ctx context.Context, m *llama.Model, opt Options, prog *cmdutil.Progress) (*Result, error) {
	if err := CheckBlockSize(m, opt.Kinds, opt.BlockSize); err != nil {
		return nil, err
	}
	if opt.Update != "none" && opt.Update != "adamw" {
		return nil, cmdutil.Usagef("--update %q: want none or adamw", opt.Update)
	}
	if opt.SaveWeights != "" && opt.Update != "adamw" {
		return nil, cmdutil.Usagef("--save-weights needs --update adamw (with --update none the weights do not change)")
	}
	modelHash, err := llama.HashWeights(opt.Model)
	if err != nil {
		return nil, err
	}
	maxLen := opt.MaxLen
	if maxLen <= 0 {
		maxLen = m.Cfg.MaxPositionEmbeddings
	}
	data, err := train.OpenData(opt.Shards, opt.Batch, maxLen, opt.Pack, opt.Seed, opt.Comm)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	loader, dataHash := data.Loader, data.Hash
	leader := opt.Comm == nil || opt.Comm.Rank() == 0
	be := m.BE
	// Which tensors are scored.
	var scored []int
	for l := 0; l < m.Cfg.NumHiddenLayers; l++ {
		for _, k := range opt.Kinds {
			scored = append(scored, m.Layout.Index(k, l))
		}
	}
	var tr *train.Trainable
	if opt.Update == "none" {
		tr = train.NewFull(m, scored, true)
	} else {
		all := make([]int, len(m.Layout.Tensors))
		for i := range all {
			all[i] = i
		}
		tr = train.NewFull(m, all, false)
	}
	opt.Opt.Steps = opt.Steps
	t, err := train.NewTrainer(m, tr, opt.Opt, loader)
	if err != nil {
		return nil, cmdutil.UsageError{Err: err}
	}
	t.Comm = opt.Comm
	// Accumulators: G = Σ g, A = Σ |g| per scored tensor.
	res := &Result{}
	sumG, sumA := map[int]backend.Buf{}, map[int]backend.Buf{}
	for _, i := range scored {
		n := m.Layout.Tensors[i].Size
		sumG[i], sumA[i] = be.Alloc(backend.F32, n), be.Alloc(backend.F32, n)
		res.AccumBytes += 8 * int64(n)
	}
	t.OnGrads = func(int) {
		for _, i := range scored {
			g := tr.Targets.Dense[i]
			n := m.Layout.Tensors[i].Size
			be.Add(sumG[i], sumG[i], g, n)
			be.AddAbs(sumA[i], sumA[i], g, n)
		}
	}
	var metrics io.Writer
	var mf *atomicfile.File
	if opt.Metrics != "" && leader {
		if mf, err = atomicfile.Create(opt.Metrics); err != nil {
			return nil, err
		}
		defer mf.Abort()
		metrics = mf
	}
	r := &train.Runner{T: t, Steps: opt.Steps, Metrics: metrics, Progress: prog}
	r.OnStep = func(st train.StepStats) {
		if st.Step == 1 {
			res.FirstLoss = st.Loss
		}
		res.LastLoss = st.Loss
		res.Tokens += int64(st.Tokens)
		res.Targets += int64(st.Targets)
	}
	_, grads, optBytes := tr.Bytes()
	res.GradBytes, res.OptimizerBytes = grads, optBytes
	res.ActBytes = t.Acts().Bytes + t.Acts().ScratchBytes + t.Scratch().Bytes
	prog.Printf("%s; scoring %s of %d layers in %d×%d blocks; update %s; %d steps × %d×%d sequences",
		m, kindList(opt.Kinds), m.Cfg.NumHiddenLayers, opt.BlockSize, opt.BlockSize, opt.Update, opt.Steps, opt.Opt.Accum, opt.Batch)
	if err := r.Run(ctx); err != nil {
		return nil, err
	}
	res.Steps = t.Step

	// Scores, one record batch per tensor, in layout order.
	var blocks []scores.Block
	shapes := map[string][2]int{}
	for _, k := range opt.Kinds {
		out, in := m.LinearShape(k)
		shapes[k.String()] = [2]int{out, in}
	}
	S := opt.BlockSize
	for _, i := range scored {
		tn := &m.Layout.Tensors[i]
		G, A := make([]float32, tn.Size), make([]float32, tn.Size)
		be.Download(G, sumG[i])
		be.Download(A, sumA[i])
		sc := scores.Compute(G, A, tn.Rows(), tn.Cols(), S)
		C := tn.Cols() / S
		for j, v := range sc {
			blocks = append(blocks, scores.Block{Tensor: tn.Name, Layer: tn.Layer, Kind: tn.Kind.String(), Row: j / C, Col: j % C, Scores: v})
		}
	}
	var params2D int64
	for _, tn := range m.Layout.Tensors {
		if len(tn.Shape) == 2 {
			params2D += int64(tn.Size)
		}
	}
	if m.Cfg.TieWordEmbeddings { // the reference counts lm_head even when tied
		params2D += int64(m.Cfg.VocabSize * m.Cfg.HiddenSize)
	}
	meta := scores.Meta{BlockSize: S, Steps: res.Steps, Tokens: res.Tokens, Targets: res.Targets, Update: opt.Update,
		ModelHash: modelHash, DataHash: dataHash, ModelParams2D: params2D, Shapes: shapes, Layers: m.Cfg.NumHiddenLayers}
	res.Blocks = len(blocks)
	res.PeakRSS = memstat.PeakRSS()
	if !leader {
		return res, nil
	}
	if opt.SaveWeights != "" {
		dt, err := llama.WeightDType(opt.Model)
		if err != nil {
			return nil, err
		}
		if err := m.Save(opt.SaveWeights, dt, llama.DefaultShardBytes, opt.Model); err != nil {
			return nil, err
		}
		prog.Printf("warmed weights written to %s (%s)", opt.SaveWeights, dt)
	}
	if err := os.MkdirAll(filepath.Dir(opt.Out), 0o755); err != nil {
		return nil, err
	}
	if err := scores.Write(opt.Out, meta, blocks); err != nil {
		return nil, err
	}
	if mf != nil {
		if err := mf.Commit(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func kindList(ks []llama.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.String()
	}
	return strings.Join(s, ",")
}
