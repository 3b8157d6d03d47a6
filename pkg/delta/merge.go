package delta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/safetensors"
)

// ErrHashMismatch is returned (wrapped) by Merge when the delta was trained
// on a model other than the base and MergeOptions.Force is not set.
var ErrHashMismatch = errors.New("the delta was trained on another model")

// MergeOptions tunes Merge.
type MergeOptions struct {
	// Force merges a delta whose smt.base_model_hash differs from the base
	// directory's hash, with a warning, instead of refusing it.
	Force bool
	// Progress receives progress and warning events; nil for none.
	Progress *cmdutil.Progress

	// afterTensor, when set (by tests), runs after each tensor is written;
	// an error from it aborts the merge.
	afterTensor func(name string) error
}

// PatchedTensor describes one tensor Merge wrote blocks into.
type PatchedTensor struct {
	Name    string `json:"name"`
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Shard   string `json:"shard"`
	Blocks  int    `json:"blocks"`
	Changed int64  `json:"params_changed"`
}

// MergeReport is what Merge did.
type MergeReport struct {
	Base          string          `json:"base"`
	Delta         string          `json:"delta"`
	Out           string          `json:"out"`
	BaseHash      string          `json:"base_hash"`       // llama.HashWeights of Base
	DeltaBaseHash string          `json:"delta_base_hash"` // smt.base_model_hash of the delta
	Forced        bool            `json:"forced"`          // the hashes differ and Force merged anyway
	BlockSize     int             `json:"block_size"`
	Step          int             `json:"step"`
	Kept          string          `json:"kept"`
	Tensors       int             `json:"tensors_patched"`
	Blocks        int             `json:"blocks"`
	ParamsPatched int64           `json:"params_patched"` // parameters overwritten: blocks × S × S
	ParamsChanged int64           `json:"params_changed"` // of those, the ones whose stored bits differ from the base
	ModelParams   int64           `json:"model_params"`   // elements of all the model's tensors
	Patched       []PatchedTensor `json:"patched"`
	WeightFiles   []string        `json:"weight_files"` // shards and index written, as in the base
	Copied        []string        `json:"copied"`       // other files copied from the base
	Skipped       []string        `json:"skipped"`      // base entries not copied (other weights, hidden files)
	Warnings      []string        `json:"warnings"`
}

// FileName is the delta's file name in a training run directory; Merge
// takes a directory for the delta and reads this file in it.
const FileName = "delta.safetensors"

// Merge writes into outDir a complete Hugging Face model directory: the
// model in baseDir with the blocks of the delta at deltaPath (a delta file,
// or a training run directory holding FileName) written into its weights.
//
// Each tensor keeps the base's dtype (F32, BF16, F16 or F64; the trained
// float32 values are rounded to nearest even) and the base's shard files,
// tensor-to-shard assignment and index file (copied as is); the tensors
// the delta does not touch, and every value outside its blocks, keep their
// bytes. Non-weight files (config.json, generation_config.json, tokenizer
// files, README, LICENSE, …) are copied; other weight files (such as
// pytorch_model.bin) and hidden entries are not.
//
// Before writing anything it refuses: a delta that does not read (see
// Read); a delta trained on another model (its smt.base_model_hash differs
// from llama.HashWeights(baseDir); Force merges anyway with a warning); a
// delta tensor the base lacks, that is not 2-D, or whose dtype it cannot
// write; a block size that does not divide a matrix; a block outside its
// matrix; a non-finite value; an output directory that is or holds an
// input, or that exists and is not a model directory.
//
// The directory is built in a temporary sibling and renamed to outDir only
// when complete (replacing an earlier model directory there): on any error
// or when ctx is cancelled, nothing is left behind. Tensors are streamed,
// so memory stays near the size of the delta whatever the model's size.
func Merge(ctx context.Context, baseDir, deltaPath, outDir string, opts MergeOptions) (MergeReport, error) {
	if st, err := os.Stat(deltaPath); err == nil && st.IsDir() {
		deltaPath = filepath.Join(deltaPath, FileName)
	}
	rep := MergeReport{Base: baseDir, Delta: deltaPath, Out: outDir}
	if err := checkPaths(baseDir, deltaPath, outDir); err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	meta, mats, err := Read(deltaPath)
	if err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	rep.DeltaBaseHash, rep.BlockSize, rep.Step, rep.Kept = meta.BaseModelHash, meta.BlockSize, meta.Step, meta.Kept
	opts.Progress.Event("hash", "hashing the base model "+baseDir, nil)
	if rep.BaseHash, err = llama.HashWeights(baseDir); err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	if rep.BaseHash != meta.BaseModelHash {
		err := fmt.Errorf("%w: %s has smt.base_model_hash %s, but the base model %s has hash %s",
			ErrHashMismatch, deltaPath, meta.BaseModelHash, baseDir, rep.BaseHash)
		if !opts.Force {
			return rep, fmt.Errorf("merge: %w (--force merges anyway)", err)
		}
		rep.Forced = true
		rep.warn(opts.Progress, "merging anyway (forced): "+err.Error())
	}
	base, err := safetensors.OpenModel(baseDir)
	if err != nil {
		return rep, fmt.Errorf("merge: base model: %w", err)
	}
	defer base.Close()
	plan, err := planPatches(base, meta.BlockSize, mats)
	if err != nil {
		return rep, fmt.Errorf("merge: %s onto %s: %w", deltaPath, baseDir, err)
	}
	d, err := atomicfile.CreateDir(outDir)
	if err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	defer d.Abort()
	if err := writeWeights(ctx, base, plan, d.Tmp, &rep, opts); err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	if rep.Copied, rep.Skipped, err = copyNonWeights(baseDir, d.Tmp); err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	rep.Skipped = slices.DeleteFunc(rep.Skipped, func(p string) bool { return slices.Contains(rep.WeightFiles, p) })
	for _, p := range rep.Skipped {
		if isWeightFile(p) {
			rep.warn(opts.Progress, fmt.Sprintf("not copied: %s (weights that merge does not read)", p))
		}
	}
	if err := checkOutput(base, d.Tmp); err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	if err := d.Commit(); err != nil {
		return rep, fmt.Errorf("merge: %w", err)
	}
	opts.Progress.Event("done", "wrote "+outDir, map[string]any{"out": outDir})
	rep.normalize()
	return rep, nil
}

// normalize makes empty lists empty rather than nil, so that the JSON form
// always has arrays.
func (r *MergeReport) normalize() {
	for _, l := range []*[]string{&r.WeightFiles, &r.Copied, &r.Skipped, &r.Warnings} {
		if *l == nil {
			*l = []string{}
		}
	}
	if r.Patched == nil {
		r.Patched = []PatchedTensor{}
	}
}

// warn records a warning and reports it.
func (r *MergeReport) warn(p *cmdutil.Progress, msg string) {
	r.Warnings = append(r.Warnings, msg)
	p.Event("warning", "warning: "+msg, nil)
}

// checkOutput opens the weights just written and checks that they hold the
// base's tensors with the base's dtypes and shapes, shard by shard.
func checkOutput(base *safetensors.Model, dir string) error {
	out, err := safetensors.OpenModel(dir)
	if err != nil {
		return fmt.Errorf("written weights do not open: %w", err)
	}
	defer out.Close()
	want, got := base.Tensors(), out.Tensors()
	if len(want) != len(got) {
		return fmt.Errorf("written weights hold %d tensors, the base %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Name != g.Name || w.DType != g.DType || !slices.Equal(w.Shape, g.Shape) ||
			filepath.Base(base.ShardOf(w.Name)) != filepath.Base(out.ShardOf(g.Name)) {
			return fmt.Errorf("written tensor %q (%s %v) does not match the base's %q (%s %v)",
				g.Name, g.DType, g.Shape, w.Name, w.DType, w.Shape)
		}
	}
	return nil
}
