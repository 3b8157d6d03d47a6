package tokenize

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/shards"
)

// Split names.
const (
	TrainSplit    = "train"
	EvalSplitName = "eval"
)

// Run tokenizes opt.Inputs into a shard directory at opt.Out. The
// directory is built under a temporary name beside opt.Out and renamed
// into place only when every shard and the manifest are written; on an
// error or when ctx is cancelled nothing is left behind. An existing
// opt.Out is replaced only when it is a shard directory (it holds a
// manifest.json) or empty.
func Run(ctx context.Context, opt Options) (*Result, error) {
	res, err := run(ctx, opt)
	if err != nil && context.Cause(ctx) != nil && errors.Is(err, context.Cause(ctx)) {
		return nil, fmt.Errorf("tokenize: interrupted, nothing written: %w", err)
	}
	return res, err
}

func run(ctx context.Context, opt Options) (*Result, error) {
	if err := check(&opt); err != nil {
		return nil, err
	}
	tmpl, err := prompt.Get(opt.Template)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	enc, err := NewEncoder(opt.Tokenizer, tmpl, EncoderConfig{
		MaxLen: opt.MaxLen, Overflow: opt.Overflow, TrainOnInputs: opt.TrainOnInputs,
		BOS: opt.BOS, LiteralSpecial: opt.LiteralSpecial})
	if err != nil {
		return nil, err
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	start := time.Now()
	var totalBytes int64
	for _, in := range opt.Inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("tokenize: input: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("tokenize: input %s is a directory", in)
		}
		totalBytes += st.Size()
	}

	chooser := &evalChooser{split: opt.EvalSplit, seed: opt.Seed}
	var first *readStats
	if opt.EvalSplit.Count > 0 {
		opt.Progress.Event("count", "counting records for an eval split of "+opt.EvalSplit.String(), nil)
		first = &readStats{}
		if err := eachRecord(ctx, &opt, first, nil, nil, func(rec prompt.Record, idx int64) error { return nil }); err != nil {
			return nil, err
		}
		if chooser.sample, err = EvalSample(opt.Seed, first.usable, opt.EvalSplit.Count); err != nil {
			return nil, err
		}
	}

	dir, err := atomicfile.CreateDir(opt.Out)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	defer dir.Abort()
	meta := map[string]string{
		"smt.tokenizer_hash": opt.Tokenizer.Hash(),
		"smt.template":       tmpl.Name(),
		"smt.max_len":        strconv.Itoa(opt.MaxLen),
	}
	wopt := shards.WriterOptions{ShardRecords: opt.ShardRecords, Uncompressed: opt.Uncompressed, Metadata: meta}
	train := shards.NewWriter(dir.Tmp, TrainSplit, wopt)
	defer train.Abort()
	var eval *shards.Writer
	if !opt.EvalSplit.IsZero() {
		eval = shards.NewWriter(dir.Tmp, EvalSplitName, wopt)
		defer eval.Abort()
	}

	var counts shards.Counts
	prog := newProgress(opt.Progress, totalBytes)
	p := newPipeline(&opt, enc, chooser, threads)
	st, err := runPipeline(ctx, p, threads, train, eval, &counts, prog)
	if err != nil {
		return nil, err
	}
	if first != nil {
		for i, s := range st.sources {
			if s.SHA256 != first.sources[i].SHA256 {
				return nil, fmt.Errorf("tokenize: %s changed while it was read", s.Path)
			}
		}
	}
	counts.Records, counts.SkippedBad = st.records, st.skipped

	splits := map[string]shards.SplitInfo{}
	info, err := train.Close()
	if err != nil {
		return nil, err
	}
	splits[TrainSplit] = info
	if eval != nil {
		if info, err = eval.Close(); err != nil {
			return nil, err
		}
		splits[EvalSplitName] = info
	}
	if splits[TrainSplit].Records == 0 {
		return nil, fmt.Errorf("tokenize: no training examples left (%d records: %d dropped as longer than %d tokens, %d skipped, %d in the eval split)",
			counts.Records, counts.Dropped, opt.MaxLen, counts.SkippedBad, splits[EvalSplitName].Records)
	}
	man := &shards.Manifest{
		Created: time.Now().UTC().Format(time.RFC3339),
		Sources: st.sources,
		Tokenizer: shards.TokenizerInfo{
			Path: opt.TokenizerPath, Hash: opt.Tokenizer.Hash(), VocabSize: opt.Tokenizer.VocabSize(),
			BOS: opt.Tokenizer.BOS(), EOS: opt.Tokenizer.EOS(),
		},
		Template: tmpl.Name(), MaxLen: opt.MaxLen, Overflow: opt.Overflow.String(),
		TrainOnInputs: opt.TrainOnInputs, EvalSplit: opt.EvalSplit.String(), Seed: opt.Seed,
		Counts: counts, Splits: splits,
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if err := shards.WriteManifest(dir.Tmp, man); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	if err := dir.Commit(); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	return &Result{Out: opt.Out, Manifest: man, Elapsed: time.Since(start), AddsBOS: enc.AddsBOS(), BOSReason: enc.BOSReason()}, nil
}

// check validates the options that do not need the template.
func check(opt *Options) error {
	if opt.Tokenizer == nil {
		return errors.New("tokenize: no tokenizer")
	}
	if len(opt.Inputs) == 0 {
		return errors.New("tokenize: no input files")
	}
	if opt.Out == "" {
		return errors.New("tokenize: no output directory")
	}
	if opt.Template == "" {
		opt.Template = prompt.Default
	}
	if opt.MaxLen < 0 {
		return fmt.Errorf("tokenize: max length %d is negative", opt.MaxLen)
	}
	if opt.EvalSplit.Fraction < 0 || opt.EvalSplit.Fraction >= 1 || opt.EvalSplit.Count < 0 {
		return fmt.Errorf("tokenize: bad eval split %+v", opt.EvalSplit)
	}
	return CheckOut(opt.Out)
}

// CheckOut returns an error when out exists and may not be replaced: it is
// not a directory, or a non-empty directory without a manifest.json (not
// the output of an earlier run).
func CheckOut(out string) error {
	st, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tokenize: output: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("tokenize: output %s exists and is not a directory", out)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("tokenize: output: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, shards.ManifestName)); err != nil {
		return fmt.Errorf("tokenize: output %s exists, is not empty and holds no %s: refusing to replace it", out, shards.ManifestName)
	}
	return nil
}
