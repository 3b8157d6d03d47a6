package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// ShardFileName returns the name of shard k (1-based) of n, as Hugging Face
// names them: "model-00001-of-00003.safetensors".
func ShardFileName(k, n int) string { return fmt.Sprintf("model-%05d-of-%05d.safetensors", k, n) }

// shardFilePattern matches the names ShardFileName makes.
var shardFilePattern = regexp.MustCompile(`^model-[0-9]{5,}-of-[0-9]{5,}\.safetensors$`)

// PlanShards splits specs, in order, into shards of at most maxShardBytes
// bytes of tensor data each, the way Hugging Face does: a new shard starts
// when the next tensor would take the current one past the limit, and a
// tensor larger than the limit gets a shard of its own. maxShardBytes ≤ 0
// means no limit (one shard). Offsets are left as given.
func PlanShards(specs []TensorInfo, maxShardBytes int64) [][]TensorInfo {
	var shards [][]TensorInfo
	var cur []TensorInfo
	var size int64
	for _, s := range specs {
		n := s.ByteSize()
		if len(cur) > 0 && maxShardBytes > 0 && size+n > maxShardBytes {
			shards = append(shards, cur)
			cur, size = nil, 0
		}
		cur = append(cur, s)
		size += n
	}
	if len(cur) > 0 || len(shards) == 0 {
		shards = append(shards, cur)
	}
	return shards
}

// ShardedWriter writes a model's weights into a directory as Hugging Face
// does: model.safetensors when everything fits in one shard, otherwise
// model-0000K-of-0000N.safetensors shards plus model.safetensors.index.json.
// Tensors are streamed in spec order. Every shard stays under a temporary
// name until Close, which publishes the shards and then the index (each by
// fsync and rename); Abort or a failed Close removes them all. The files are
// published one by one: to publish a whole model directory at once, write
// into the Tmp directory of an atomicfile.CreateDir and commit that.
type ShardedWriter struct {
	dir     string
	names   []string // shard file names
	plan    [][]TensorInfo
	meta    map[string]string
	writers []*Writer // one per shard, created when its first tensor comes
	cur     int       // shard of the next tensor
	total   int64
	done    bool
}

// NewShardedWriter plans the shards of specs under maxShardBytes (see
// PlanShards; ≤ 0 for a single file) and starts writing them into dir, which
// is created if needed. Each shard's header carries metadata.
func NewShardedWriter(dir string, specs []TensorInfo, metadata map[string]string, maxShardBytes int64) (*ShardedWriter, error) {
	if _, err := Layout(specs); err != nil { // reject bad specs before creating anything
		return nil, fmt.Errorf("safetensors: %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	plan := PlanShards(specs, maxShardBytes)
	sw := &ShardedWriter{dir: dir, plan: plan, meta: metadata, writers: make([]*Writer, len(plan))}
	for k := range plan {
		if len(plan) == 1 {
			sw.names = append(sw.names, SingleFileName)
		} else {
			sw.names = append(sw.names, ShardFileName(k+1, len(plan)))
		}
		for _, t := range plan[k] {
			sw.total += t.ByteSize()
		}
	}
	if err := sw.open(0); err != nil {
		return nil, err
	}
	return sw, nil
}

// open starts the writer of shard k.
func (sw *ShardedWriter) open(k int) error {
	w, err := NewWriter(filepath.Join(sw.dir, sw.names[k]), sw.plan[k], sw.meta)
	if err != nil {
		sw.Abort()
		return err
	}
	sw.writers[k] = w
	sw.cur = k
	return nil
}

// Shards returns the file names of the shards, in order.
func (sw *ShardedWriter) Shards() []string { return append([]string(nil), sw.names...) }

// Plan returns the tensors of each shard, with their offsets in that shard.
func (sw *ShardedWriter) Plan() [][]TensorInfo {
	out := make([][]TensorInfo, len(sw.plan))
	for k := range sw.plan {
		out[k], _ = Layout(sw.plan[k])
	}
	return out
}

// TotalSize returns the bytes of tensor data of all shards.
func (sw *ShardedWriter) TotalSize() int64 { return sw.total }

// writer returns the Writer that takes the named tensor next, moving on to
// the next shard when the current one is complete.
func (sw *ShardedWriter) writer(name string) (*Writer, error) {
	if sw.done {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: write after Close or Abort", sw.dir, name)
	}
	w := sw.writers[sw.cur]
	if w.Next() == "" && sw.cur+1 < len(sw.plan) {
		if err := w.finish(); err != nil {
			return nil, err
		}
		if err := sw.open(sw.cur + 1); err != nil {
			return nil, err
		}
		w = sw.writers[sw.cur]
	}
	return w, nil
}

// WriteTensor writes the next tensor's data (see Writer.WriteTensor).
func (sw *ShardedWriter) WriteTensor(name string, data []byte) error {
	w, err := sw.writer(name)
	if err != nil {
		return err
	}
	return w.WriteTensor(name, data)
}

// WriteTensorFrom copies the next tensor's data from r (see
// Writer.WriteTensorFrom).
func (sw *ShardedWriter) WriteTensorFrom(name string, r io.Reader) error {
	w, err := sw.writer(name)
	if err != nil {
		return err
	}
	return w.WriteTensorFrom(name, r)
}

// Close checks that every tensor was written, publishes the shards and, for
// more than one shard, the index. It then removes weights of an earlier
// model in dir that would shadow or mix with the new ones: a stale
// model.safetensors, model.safetensors.index.json, or model-*-of-*.safetensors
// shard not written now. On error before publishing, nothing is left behind.
func (sw *ShardedWriter) Close() error {
	if sw.done {
		return fmt.Errorf("safetensors: %s: Close after Close or Abort", sw.dir)
	}
	last := len(sw.plan) - 1
	if sw.cur != last {
		w := sw.writers[sw.cur]
		err := w.finish()
		if err == nil {
			err = fmt.Errorf("safetensors: %s: only %d of %d shards written; tensor %q is missing",
				sw.dir, sw.cur+1, len(sw.plan), sw.plan[sw.cur+1][0].Name)
		}
		sw.Abort()
		return err
	}
	if err := sw.writers[last].finish(); err != nil {
		sw.Abort()
		return err
	}
	var index []byte
	if len(sw.plan) > 1 {
		index = sw.indexJSON()
	}
	for k, w := range sw.writers {
		if err := w.commit(); err != nil {
			for _, w := range sw.writers[k+1:] {
				w.Abort()
			}
			sw.done = true
			return err
		}
	}
	sw.done = true
	if index != nil {
		if err := atomicfile.WriteFile(filepath.Join(sw.dir, IndexFileName), index); err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
	}
	return sw.removeStale()
}

// indexJSON returns the index file's content, formatted like transformers'
// save_pretrained: two-space indentation, sorted keys, a final newline.
func (sw *ShardedWriter) indexJSON() []byte {
	weightMap := map[string]string{}
	for k, shard := range sw.plan {
		for _, t := range shard {
			weightMap[t.Name] = sw.names[k]
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{
		"metadata":   map[string]int64{"total_size": sw.total},
		"weight_map": weightMap,
	})
	return b.Bytes()
}

// removeStale deletes weights files in dir that the model just written does
// not use.
func (sw *ShardedWriter) removeStale() error {
	keep := map[string]bool{}
	for _, n := range sw.names {
		keep[n] = true
	}
	if len(sw.names) > 1 {
		keep[IndexFileName] = true
	}
	entries, err := os.ReadDir(sw.dir)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var errs []error
	removed := false
	for _, e := range entries {
		n := e.Name()
		if keep[n] || e.IsDir() {
			continue
		}
		if n == SingleFileName || n == IndexFileName || shardFilePattern.MatchString(n) {
			if err := os.Remove(filepath.Join(sw.dir, n)); err != nil {
				errs = append(errs, fmt.Errorf("safetensors: remove stale %w", err))
			}
			removed = true
		}
	}
	if removed {
		errs = append(errs, atomicfile.SyncDir(sw.dir))
	}
	return errors.Join(errs...)
}

// Abort discards every shard written so far; nothing appears in dir. It does
// nothing after Close.
func (sw *ShardedWriter) Abort() error {
	if sw.done {
		return nil
	}
	sw.done = true
	var errs []error
	for _, w := range sw.writers {
		if w != nil {
			errs = append(errs, w.Abort())
		}
	}
	return errors.Join(errs...)
}

// WriteModel writes tensors, in order, into dir as a Hugging Face model's
// weights, sharded at maxShardBytes (≤ 0 for a single model.safetensors); see
// ShardedWriter.
func WriteModel(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	specs := make([]TensorInfo, len(tensors))
	for i, t := range tensors {
		specs[i] = t.Info
	}
	sw, err := NewShardedWriter(dir, specs, metadata, maxShardBytes)
	if err != nil {
		return err
	}
	defer sw.Abort()
	for _, t := range tensors {
		if err := sw.WriteTensor(t.Info.Name, t.Data); err != nil {
			return err
		}
	}
	return sw.Close()
}
