package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File names of a Hugging Face model directory.
const (
	// SingleFileName is the weights file of an unsharded model.
	SingleFileName = "model.safetensors"
	// IndexFileName is the index of a sharded model.
	IndexFileName = "model.safetensors.index.json"
)

// Model is a model's weights opened as one set of tensors: a single
// safetensors file, or every shard of a sharded checkpoint. It has the same
// reading methods as File. Its methods may be called from several goroutines
// at once, except Close.
type Model struct {
	indexPath string
	files     []*File
	names     []string
	where     map[string]int // tensor name → index into files
}

// OpenModel opens a model's weights. path may be:
//   - a directory holding model.safetensors, or model.safetensors.index.json
//     and the shards it names (model.safetensors wins when both are there, as
//     in Hugging Face transformers); failing both, a directory with exactly
//     one *.safetensors.index.json or exactly one *.safetensors file;
//   - the path of an index .json file;
//   - the path of a single .safetensors file.
//
// For an index, every shard it names must exist and hold the tensors mapped
// to it, and no tensor may be in two shards. Tensors a shard holds but the
// index does not list are served too.
func OpenModel(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.IsDir() {
		if path, err = findWeights(path); err != nil {
			return nil, err
		}
	}
	if strings.HasSuffix(path, ".json") {
		return openIndex(path)
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	m := &Model{files: []*File{f}, where: map[string]int{}}
	for _, name := range f.Names() {
		m.where[name] = 0
	}
	m.names = f.Names()
	return m, nil
}

// findWeights returns the weights file or index to open in dir.
func findWeights(dir string) (string, error) {
	for _, name := range []string{SingleFileName, IndexFileName} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("safetensors: %w", err)
		}
	}
	for _, pattern := range []string{"*.safetensors.index.json", "*.safetensors"} {
		matches, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return "", fmt.Errorf("safetensors: %w", err)
		}
		if len(matches) == 1 {
			return matches[0], nil
		}
		if len(matches) > 1 {
			return "", fmt.Errorf("safetensors: %s: no %s or %s, and %d files match %s; name one",
				dir, SingleFileName, IndexFileName, len(matches), pattern)
		}
	}
	return "", fmt.Errorf("safetensors: %s: no %s or %s", dir, SingleFileName, IndexFileName)
}

// Index is the content of a model.safetensors.index.json file.
type Index struct {
	// TotalSize is metadata.total_size: the bytes of tensor data in all shards.
	TotalSize int64
	// WeightMap maps each tensor name to the file name of its shard.
	WeightMap map[string]string
}

// ReadIndex reads and checks an index file: it must be a JSON object whose
// "weight_map" maps tensor names (each listed once) to shard file names in
// the index's own directory.
func ReadIndex(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	idx, err := parseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return idx, nil
}

func parseIndex(data []byte) (*Index, error) {
	var raw struct {
		Metadata  map[string]json.RawMessage `json:"metadata"`
		WeightMap json.RawMessage            `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("index is not a valid JSON object: %w", err)
	}
	idx := &Index{WeightMap: map[string]string{}}
	if ts, ok := raw.Metadata["total_size"]; ok {
		// Some writers store total_size as a float; accept integral values.
		var f float64
		if err := json.Unmarshal(ts, &f); err != nil || f < 0 || f != float64(int64(f)) {
			return nil, fmt.Errorf("metadata.total_size %s is not a byte count", ts)
		}
		idx.TotalSize = int64(f)
	}
	if len(raw.WeightMap) == 0 || string(raw.WeightMap) == "null" {
		return nil, errors.New(`index has no "weight_map"`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw.WeightMap))
	if err := expectDelim(dec, '{', `"weight_map"`); err != nil {
		return nil, err
	}
	for dec.More() {
		name, err := objectKey(dec, `"weight_map"`)
		if err != nil {
			return nil, err
		}
		tok, err := dec.Token()
		shard, ok := tok.(string)
		if err != nil || !ok {
			return nil, fmt.Errorf("weight_map: tensor %q: shard must be a file name string", name)
		}
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." ||
			strings.ContainsAny(shard, `/\`) {
			return nil, fmt.Errorf("weight_map: tensor %q: shard %q is not a file name in the index's directory", name, shard)
		}
		if _, dup := idx.WeightMap[name]; dup {
			return nil, fmt.Errorf("weight_map: tensor %q is listed twice", name)
		}
		idx.WeightMap[name] = shard
	}
	return idx, nil
}

// Shards returns the distinct shard file names of the index, sorted.
func (idx *Index) Shards() []string {
	var shards []string
	for _, s := range idx.WeightMap {
		shards = append(shards, s)
	}
	slices.Sort(shards)
	return slices.Compact(shards)
}

func openIndex(path string) (_ *Model, err error) {
	idx, err := ReadIndex(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	m := &Model{indexPath: path, where: map[string]int{}}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	// The tensor names per shard, for the error messages.
	listed := map[string][]string{}
	for name, shard := range idx.WeightMap {
		listed[shard] = append(listed[shard], name)
	}
	for _, shard := range idx.Shards() {
		slices.Sort(listed[shard])
		p := filepath.Join(dir, shard)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("safetensors: %s: shard %s (mapped from %d tensor(s), e.g. %q) is missing: %w",
				path, shard, len(listed[shard]), listed[shard][0], err)
		}
		f, err := Open(p)
		if err != nil {
			return nil, err
		}
		i := len(m.files)
		m.files = append(m.files, f)
		for _, name := range f.Names() {
			if j, dup := m.where[name]; dup {
				return nil, fmt.Errorf("safetensors: %s: tensor %q is in two shards, %s and %s",
					path, name, filepath.Base(m.files[j].Path()), shard)
			}
			m.where[name] = i
			m.names = append(m.names, name)
		}
	}
	for _, shard := range idx.Shards() {
		for _, name := range listed[shard] {
			i, ok := m.where[name]
			if !ok {
				return nil, fmt.Errorf("safetensors: %s: tensor %q is mapped to %s, which does not hold it",
					path, name, shard)
			}
			if got := filepath.Base(m.files[i].Path()); got != shard {
				return nil, fmt.Errorf("safetensors: %s: tensor %q is mapped to %s but is in %s",
					path, name, shard, got)
			}
		}
	}
	return m, nil
}

// Close unmaps every shard. Slices returned by Bytes must not be used after it.
func (m *Model) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// IndexPath returns the path of the index file, or "" for a single file.
func (m *Model) IndexPath() string { return m.indexPath }

// Shards returns the paths of the model's safetensors files, in order.
func (m *Model) Shards() []string {
	out := make([]string, len(m.files))
	for i, f := range m.files {
		out[i] = f.Path()
	}
	return out
}

// ShardOf returns the path of the file holding the named tensor, or "" if
// the model has no such tensor.
func (m *Model) ShardOf(name string) string {
	i, ok := m.where[name]
	if !ok {
		return ""
	}
	return m.files[i].Path()
}

// Metadata returns the "__metadata__" map of the first shard (nil if none).
func (m *Model) Metadata() map[string]string {
	if len(m.files) == 0 {
		return nil
	}
	return m.files[0].Metadata()
}

// Names returns the tensor names: shard by shard, in data order within each.
func (m *Model) Names() []string { return slices.Clone(m.names) }

// Tensors returns the descriptions of all tensors, in the order of Names.
// Offsets are relative to each tensor's own shard.
func (m *Model) Tensors() []TensorInfo {
	var out []TensorInfo
	for _, f := range m.files {
		out = append(out, f.Tensors()...)
	}
	return out
}

// TotalSize returns the number of bytes of tensor data across all shards.
func (m *Model) TotalSize() int64 {
	var n int64
	for _, f := range m.files {
		n += int64(len(f.buf))
	}
	return n
}

// Info returns the description of the named tensor.
func (m *Model) Info(name string) (TensorInfo, bool) {
	f, err := m.file(name)
	if err != nil {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Bytes returns the named tensor's raw bytes as a read-only view into its
// mapped shard, valid until Close (see File.Bytes).
func (m *Model) Bytes(name string) ([]byte, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, err
	}
	return f.Bytes(name)
}

// Float32 returns the named tensor converted to a new []float32.
func (m *Model) Float32(name string) ([]float32, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name)
}

// ReadFloat32 converts the named tensor into dst (see File.ReadFloat32).
func (m *Model) ReadFloat32(name string, dst []float32) error {
	f, err := m.file(name)
	if err != nil {
		return err
	}
	return f.ReadFloat32(name, dst)
}

// Int64s returns the named integer tensor as a new []int64 (see File.Int64s).
func (m *Model) Int64s(name string) ([]int64, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, err
	}
	return f.Int64s(name)
}

// Int32s returns the named integer tensor as a new []int32 (see File.Int32s).
func (m *Model) Int32s(name string) ([]int32, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, err
	}
	return f.Int32s(name)
}

func (m *Model) file(name string) (*File, error) {
	i, ok := m.where[name]
	if !ok {
		where := m.indexPath
		if where == "" && len(m.files) > 0 {
			where = m.files[0].Path()
		}
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", where, name, ErrNotFound)
	}
	return m.files[i], nil
}
