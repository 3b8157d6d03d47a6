// Package smttrain is the train stage: sparse fine-tuning of the blocks
// listed in a block index (blocks.arrow) with a fresh AdamW over one flat
// buffer of their values, held-out loss with the best values kept,
// checkpoints that resume bit for bit, and delta.safetensors holding the
// trained blocks.
package smttrain

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/blocks"
	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/delta"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/memstat"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/train"
)

// Options configure a training run.
type Options struct {
	Model  string // Hugging Face model directory (base or warmed)
	Shards string // shard directory (train split; eval split for held-out loss)
	Blocks string // blocks.arrow written by select
	Out    string // run directory: delta.safetensors, metrics.jsonl, checkpoints/

	Epochs float64 // used when Steps is 0
	Steps  int
	Batch  int
	MaxLen int // 0: the model's max_position_embeddings
	Pack   bool
	Seed   int64
	Opt    train.Options

	EvalEvery       int    // held-out loss every N steps (0: only at the start and the end)
	EvalBatch       int    // 0: Batch
	Keep            string // "best" (lowest held-out loss; the reference) or "last"
	CheckpointEvery int    // 0: no checkpoints
	Resume          bool

	// Comm, when set, makes the run data parallel: each rank reads its
	// share of every batch, the block gradients are summed over ranks, and
	// rank 0 writes checkpoints, metrics and the delta.
	Comm train.Reducer
}

// Result summarises a run.
type Result struct {
	Delta         string  `json:"delta"`
	Steps         int     `json:"steps"`
	Epochs        float64 `json:"epochs"`
	FirstLoss     float64 `json:"first_loss"`
	LastLoss      float64 `json:"last_loss"`
	BaseEvalLoss  float64 `json:"base_eval_loss"`
	BestEvalLoss  float64 `json:"best_eval_loss"`
	BestStep      int     `json:"best_step"`
	Kept          string  `json:"kept"`
	Blocks        int     `json:"blocks"`
	TrainedParams int64   `json:"trained_params"`
	ModelParams   int64   `json:"model_params"`
	Tokens        int64   `json:"tokens"`
	Seconds       float64 `json:"seconds"`
	Memory        Memory  `json:"memory"`
	FullFT        Memory  `json:"full_fine_tuning_memory"`
	PeakRSS       int64   `json:"peak_rss"`
	Resumed       bool    `json:"resumed"`
}

// DeltaName is the delta file's name in the run directory.
const DeltaName = "delta.safetensors"

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// BlockTables turns a block index into block tables by tensor index,
// checking that every block fits the model.
func BlockTables(m *llama.Model, path string) (map[int]backend.BlockTable, int, error) {
	meta, entries, err := blocks.Read(path)
	if err != nil {
		return nil, 0, err
	}
	S := meta.BlockSize
	out := map[int]backend.BlockTable{}
	n := 0
	for name, tb := range blocks.Tables(entries) {
		t, ok := m.Layout.ByName(name)
		if !ok {
			return nil, 0, fmt.Errorf("%s: tensor %s is not in the model", path, name)
		}
		if !t.Kind.IsLinear() {
			return nil, 0, fmt.Errorf("%s: tensor %s is not a linear weight", path, name)
		}
		if t.Rows()%S != 0 || t.Cols()%S != 0 {
			return nil, 0, fmt.Errorf("%s: block size %d does not divide %s [%d, %d] (blocks made for another model?)", path, S, name, t.Rows(), t.Cols())
		}
		bt := backend.BlockTable{Size: S, Out: t.Rows(), In: t.Cols(), Rows: tb.Rows, Cols: tb.Cols}
		for i := range bt.Rows {
			if int(bt.Rows[i]) >= t.Rows()/S || int(bt.Cols[i]) >= t.Cols()/S {
				return nil, 0, fmt.Errorf("%s: block (%d, %d) of %s is outside its %d×%d grid (blocks made for another model?)", path, bt.Rows[i], bt.Cols[i], name, t.Rows()/S, t.Cols()/S)
			}
		}
		out[m.Layout.Index(t.Kind, t.Layer)] = bt
		n += bt.Len()
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no blocks selected", path)
	}
	return out, n, nil
}

// Run trains the model m (loaded on its backend from opt.Model) and writes
// the run directory. A cancelled context leaves a checkpoint (when enabled)
// and no delta.
func Run(ctx context.Context, m *llama.Model, opt Options, prog *cmdutil.Progress) (*Result, error) {
	if opt.Keep != "best" && opt.Keep != "last" {
		return nil, cmdutil.Usagef("--keep %q: want best or last", opt.Keep)
	}
	tables, nblocks, err := BlockTables(m, opt.Blocks)
	if err != nil {
		return nil, err
	}
	modelHash, err := llama.HashWeights(opt.Model)
	if err != nil {
		return nil, err
	}
	blocksHash, err := fileSHA256(opt.Blocks)
	if err != nil {
		return nil, err
	}
	var eval *shards.Split
	if man, err := shards.ReadManifest(opt.Shards); err == nil {
		if _, ok := man.Splits["eval"]; ok {
			if eval, err = shards.OpenSplit(opt.Shards, "eval"); err != nil {
				return nil, err
			}
			defer eval.Close()
		}
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
	steps := opt.Steps
	if steps <= 0 {
		perEpoch := (loader.BatchesPerEpoch() + opt.Opt.Accum - 1) / opt.Opt.Accum
		steps = int(math.Ceil(opt.Epochs * float64(perEpoch)))
	}
	if steps <= 0 {
		return nil, cmdutil.Usagef("no training steps: give --steps or --epochs")
	}
	opt.Opt.Steps = steps
	tr, err := train.NewBlocks(m, tables)
	if err != nil {
		return nil, err
	}
	t, err := train.NewTrainer(m, tr, opt.Opt, loader)
	if err != nil {
		return nil, cmdutil.UsageError{Err: err}
	}
	t.Comm = opt.Comm
	settings, _ := json.Marshal(struct {
		Steps, Batch, MaxLen int
		Pack                 bool
		Seed                 int64
		Opt                  train.Options
		EvalEvery            int
		Keep                 string
	}{steps, opt.Batch, maxLen, opt.Pack, opt.Seed, opt.Opt, opt.EvalEvery, opt.Keep})
	fp := sha256.Sum256([]byte(modelHash + "\n" + dataHash + "\n" + blocksHash + "\n" + string(settings)))

	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, err
	}
	r := &train.Runner{T: t, Steps: steps, EvalEvery: opt.EvalEvery, EvalBatch: max(opt.EvalBatch, 1),
		KeepBest: opt.Keep == "best" && eval != nil, CheckpointDir: filepath.Join(opt.Out, "checkpoints"),
		CheckpointEvery: opt.CheckpointEvery, Fingerprint: hex.EncodeToString(fp[:]), Progress: prog}
	if opt.EvalBatch <= 0 {
		r.EvalBatch = opt.Batch
	}
	if eval != nil {
		r.Eval = eval
	}
	res := &Result{Blocks: nblocks, TrainedParams: int64(tr.N), ModelParams: int64(m.Layout.Total), BaseEvalLoss: math.NaN(), Kept: opt.Keep}
	if opt.Resume {
		if res.Resumed, err = r.Resume(); err != nil {
			return nil, err
		}
	} else if cks, _ := train.Checkpoints(r.CheckpointDir); len(cks) > 0 {
		return nil, fmt.Errorf("%s holds checkpoints of an earlier run: pass --resume to continue it, or use a new --out", r.CheckpointDir)
	}
	metricsPath := filepath.Join(opt.Out, "metrics.jsonl")
	if leader {
		mf, err := openMetrics(metricsPath, t.Step)
		if err != nil {
			return nil, err
		}
		defer mf.Close()
		r.Metrics = mf
	}

	// Memory report.
	master, grads, optim := tr.Bytes()
	res.Memory = Memory{Master: master, Gradients: grads, Optimizer: optim,
		Activations: t.Acts().Bytes, Scratch: t.Acts().ScratchBytes + t.Scratch().Bytes,
		Weights: int64(m.Layout.Total) * int64(m.BE.DType().Size())}
	res.FullFT = FullFineTuningMemory(m.Cfg, m.BE.DType(), t.Acts().B, t.Acts().T)
	prog.Printf("%s; training %d blocks of %d×%d = %d values (%.3f%% of %d) for %d steps of %d×%d sequences",
		m, nblocks, tables[firstKey(tables)].Size, tables[firstKey(tables)].Size, tr.N, 100*float64(tr.N)/float64(m.Layout.Total), m.Layout.Total, steps, opt.Opt.Accum, opt.Batch)
	prog.Printf("memory: optimizer %s, gradients %s, saved activations %s (full fine-tuning: %s, %s, %s)",
		memstat.Bytes(res.Memory.Optimizer), memstat.Bytes(res.Memory.Gradients), memstat.Bytes(res.Memory.Activations),
		memstat.Bytes(res.FullFT.Optimizer), memstat.Bytes(res.FullFT.Gradients), memstat.Bytes(res.FullFT.Activations))

	first := true
	r.OnStep = func(st train.StepStats) {
		if first {
			res.FirstLoss, first = st.Loss, false
		}
		res.LastLoss = st.Loss
		res.Tokens += int64(st.Tokens)
		res.Seconds += st.Duration.Seconds()
		res.Epochs = st.Epoch
	}
	if err := r.Run(ctx); err != nil {
		return nil, err
	}
	res.BaseEvalLoss = baseEval(metricsPath) // step 0's record survives a resume
	res.Steps = t.Step
	res.BestEvalLoss, res.BestStep = r.BestLoss, r.BestStep

	// The delta: the kept values, per tensor.
	vals := tr.Master
	kept := "last"
	if r.KeepBest && !math.IsNaN(r.BestLoss) {
		vals, kept = r.Best, "best"
	}
	res.Kept = kept
	if !leader {
		return res, nil
	}
	host := make([]float32, tr.N)
	m.BE.Download(host, vals)
	var mats []delta.Matrix
	for _, p := range tr.Parts {
		mats = append(mats, delta.Matrix{Name: m.Layout.Tensors[p.Tensor].Name, Rows: p.Blocks.Rows, Cols: p.Blocks.Cols,
			Values: host[p.Offset : p.Offset+p.Size]})
	}
	dm := delta.Meta{BaseModelHash: modelHash, BlockSize: tables[firstKey(tables)].Size, BlocksSHA256: blocksHash,
		Step: t.Step, Kept: kept, Train: string(settings)}
	if kept == "best" {
		dm.Step, dm.EvalLoss = r.BestStep, r.BestLoss
	}
	res.Delta = filepath.Join(opt.Out, DeltaName)
	if err := delta.Write(res.Delta, dm, mats); err != nil {
		return nil, err
	}
	res.PeakRSS = memstat.PeakRSS()
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(opt.Out, SummaryName), append(b, '\n')); err != nil {
		return nil, err
	}
	return res, nil
}

// SummaryName is the run summary's file name in the run directory (the
// Result as JSON; a loss that was not measured is null).
const SummaryName = "summary.json"

// MarshalJSON writes the result with NaN losses as null.
func (r Result) MarshalJSON() ([]byte, error) {
	type alias Result
	num := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	return json.Marshal(struct {
		alias
		BaseEvalLoss any `json:"base_eval_loss"`
		BestEvalLoss any `json:"best_eval_loss"`
		FirstLoss    any `json:"first_loss"`
		LastLoss     any `json:"last_loss"`
	}{alias(r), num(r.BaseEvalLoss), num(r.BestEvalLoss), num(r.FirstLoss), num(r.LastLoss)})
}

func firstKey(m map[int]backend.BlockTable) int {
	k := -1
	for i := range m {
		if k < 0 || i < k {
			k = i
		}
	}
	return k
}

// openMetrics opens metrics.jsonl for appending after keeping only the
// records of steps ≤ keepStep (a resumed run rewrites what followed its
// checkpoint).
func openMetrics(path string, keepStep int) (*os.File, error) {
	var kept []string
	if keepStep > 0 {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var rec struct {
					Step *int `json:"step"`
				}
				if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Step != nil && *rec.Step <= keepStep {
					kept = append(kept, sc.Text())
				}
			}
			f.Close()
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if len(kept) > 0 {
		if _, err := f.WriteString(strings.Join(kept, "\n") + "\n"); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// baseEval returns the held-out loss logged at step 0, NaN if none.
func baseEval(metricsPath string) float64 {
	f, err := os.Open(metricsPath)
	if err != nil {
		return math.NaN()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Step     int      `json:"step"`
			EvalLoss *float64 `json:"eval_loss"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Step == 0 && rec.EvalLoss != nil {
			return *rec.EvalLoss
		}
	}
	return math.NaN()
}
