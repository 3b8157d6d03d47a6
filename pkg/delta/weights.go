package delta

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/safetensors"
)

// writeWeights writes the base's weights files into dir with the patches
// applied: each shard under its own name with its own tensors in the same
// order and its own metadata, and the index file copied unchanged.
func writeWeights(ctx context.Context, base *safetensors.Model, plan map[string]*patch, dir string, rep *MergeReport, opts MergeOptions) error {
	prog := newByteProgress(opts.Progress, base.TotalSize())
	shards := base.Shards()
	for k, path := range shards {
		name := filepath.Base(path)
		opts.Progress.Event("shard", fmt.Sprintf("writing %s (%d of %d)", name, k+1, len(shards)),
			map[string]any{"shard": name, "index": k + 1, "shards": len(shards)})
		if err := writeShard(ctx, path, filepath.Join(dir, name), plan, rep, opts, prog); err != nil {
			return err
		}
		rep.WeightFiles = append(rep.WeightFiles, name)
	}
	if idx := base.IndexPath(); idx != "" {
		name := filepath.Base(idx)
		if err := copyFile(idx, filepath.Join(dir, name)); err != nil {
			return err
		}
		rep.WeightFiles = append(rep.WeightFiles, name)
	}
	return nil
}

// writeShard writes one weights file: the tensors of the base file src, in
// its order, patched where plan says.
func writeShard(ctx context.Context, src, dst string, plan map[string]*patch, rep *MergeReport, opts MergeOptions, prog *byteProgress) error {
	f, err := safetensors.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	specs := f.Tensors()
	w, err := safetensors.NewWriter(dst, specs, f.Metadata())
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, t := range specs {
		rep.ModelParams += int64(t.NumElements())
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := f.Bytes(t.Name)
		if err != nil {
			return err
		}
		if p := plan[t.Name]; p != nil {
			r := newBandReader(data, p, rep.BlockSize)
			if err := w.WriteTensorFrom(t.Name, r); err != nil {
				return err
			}
			n := int64(p.m.Len() * rep.BlockSize * rep.BlockSize)
			rep.Tensors++
			rep.Blocks += p.m.Len()
			rep.ParamsPatched += n
			rep.ParamsChanged += r.changed
			rep.Patched = append(rep.Patched, PatchedTensor{Name: t.Name, DType: string(t.DType), Shape: t.Shape,
				Shard: filepath.Base(src), Blocks: p.m.Len(), Changed: r.changed})
		} else if err := w.WriteTensor(t.Name, data); err != nil {
			return err
		}
		prog.add(int64(len(data)))
		if opts.afterTensor != nil {
			if err := opts.afterTensor(t.Name); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

// byteProgress reports bytes written, with rate and ETA, at most every two
// seconds.
type byteProgress struct {
	p           *cmdutil.Progress
	total, done int64
	start, last time.Time
}

func newByteProgress(p *cmdutil.Progress, total int64) *byteProgress {
	now := time.Now()
	return &byteProgress{p: p, total: total, start: now, last: now}
}

func (b *byteProgress) add(n int64) {
	b.done += n
	now := time.Now()
	if now.Sub(b.last) < 2*time.Second {
		return
	}
	b.last = now
	sec := now.Sub(b.start).Seconds()
	rate := float64(b.done) / sec
	eta := 0.0
	if rate > 0 {
		eta = float64(b.total-b.done) / rate
	}
	b.p.Event("progress", fmt.Sprintf("%.0f of %.0f MB (%.0f%%), %.0f MB/s, ETA %.0fs",
		float64(b.done)/1e6, float64(b.total)/1e6, 100*float64(b.done)/float64(max(b.total, 1)), rate/1e6, eta),
		map[string]any{"bytes": b.done, "total_bytes": b.total, "bytes_per_s": rate, "eta_s": eta})
}
