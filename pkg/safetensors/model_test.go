package safetensors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// llamaLike returns small LLaMA-named tensors with distinct contents.
func llamaLike() []Tensor {
	var out []Tensor
	add := func(name string, dt DType, shape ...int) {
		info := TensorInfo{Name: name, DType: dt, Shape: shape}
		vals := make([]float32, info.NumElements())
		for i := range vals {
			vals[i] = float32(len(out)) + float32(i)/64
		}
		data := make([]byte, info.ByteSize())
		if err := EncodeFloat32(data, vals, dt); err != nil {
			panic(err)
		}
		out = append(out, Tensor{info, data})
	}
	add("model.embed_tokens.weight", BF16, 32, 16) // 1024 bytes
	for l := range 2 {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", F32, 16)       // 64
		add(p+"self_attn.q_proj.weight", BF16, 16, 16) // 512
		add(p+"self_attn.k_proj.weight", BF16, 8, 16)  // 256
		add(p+"self_attn.v_proj.weight", BF16, 8, 16)  // 256
		add(p+"mlp.up_proj.weight", F16, 24, 16)       // 768
	}
	add("model.norm.weight", F32, 16)   // 64
	add("lm_head.weight", BF16, 32, 16) // 1024
	return out
}

func TestPlanShards(t *testing.T) {
	sizes := func(plan [][]TensorInfo) [][]int64 {
		var out [][]int64
		for _, s := range plan {
			var row []int64
			for _, tt := range s {
				row = append(row, tt.ByteSize())
			}
			out = append(out, row)
		}
		return out
	}
	mk := func(n ...int) []TensorInfo {
		var s []TensorInfo
		for i, b := range n {
			s = append(s, TensorInfo{Name: fmt.Sprint(i), DType: U8, Shape: []int{b}})
		}
		return s
	}
	for _, c := range []struct {
		sizes []int
		max   int64
		want  [][]int64
	}{
		{[]int{4, 4, 4}, 8, [][]int64{{4, 4}, {4}}},
		{[]int{4, 20, 4, 4}, 8, [][]int64{{4}, {20}, {4, 4}}},
		{[]int{20}, 8, [][]int64{{20}}},
		{[]int{4, 4, 4}, 0, [][]int64{{4, 4, 4}}},
		{nil, 8, [][]int64{nil}},
		{[]int{0, 8, 0, 1}, 8, [][]int64{{0, 8, 0}, {1}}},
	} {
		if got := sizes(PlanShards(mk(c.sizes...), c.max)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("PlanShards(%v, %d) = %v, want %v", c.sizes, c.max, got, c.want)
		}
	}
}

// TestShardedRoundTrip writes a model with a small shard limit and reads it
// back through the directory, the index and a single shard. With a limit of
// 1100 bytes the plan is [embed 1024, layernorm 64], [q 512, k 256, v 256],
// [up 768, norm 64], [q, k, v], [up, norm 64], [lm_head 1024].
func TestShardedRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	tensors := llamaLike()
	meta := map[string]string{"format": "pt"}
	if err := WriteModel(dir, tensors, meta, 1100); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"model-00001-of-00006.safetensors", "model-00002-of-00006.safetensors",
		"model-00003-of-00006.safetensors", "model-00004-of-00006.safetensors",
		"model-00005-of-00006.safetensors", "model-00006-of-00006.safetensors", IndexFileName,
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("directory holds %v, want %v", got, want)
	}
	raw, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, tt := range tensors {
		total += int64(len(tt.Data))
	}
	if !strings.HasPrefix(string(raw), fmt.Sprintf("{\n  \"metadata\": {\n    \"total_size\": %d\n  },\n  \"weight_map\": {\n    \"lm_head.weight\": \"model-00006-of-00006.safetensors\",\n", total)) ||
		!strings.HasSuffix(string(raw), "}\n}\n") {
		t.Errorf("index not in transformers' layout:\n%s", raw)
	}
	idx, err := ReadIndex(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	if idx.TotalSize != total || len(idx.WeightMap) != len(tensors) || len(idx.Shards()) != 6 {
		t.Errorf("index: total %d (want %d), %d tensors, shards %v", idx.TotalSize, total, len(idx.WeightMap), idx.Shards())
	}
	for _, open := range []string{dir, filepath.Join(dir, IndexFileName)} {
		m, err := OpenModel(open)
		if err != nil {
			t.Fatal(err)
		}
		checkModel(t, m, tensors, meta)
		if m.IndexPath() != filepath.Join(dir, IndexFileName) || len(m.Shards()) != 6 || m.TotalSize() != total {
			t.Errorf("IndexPath %q, Shards %v, TotalSize %d", m.IndexPath(), m.Shards(), m.TotalSize())
		}
		if got := m.ShardOf("model.embed_tokens.weight"); got != filepath.Join(dir, "model-00001-of-00006.safetensors") {
			t.Errorf("ShardOf(embed) = %q", got)
		}
		if got := m.ShardOf("lm_head.weight"); got != filepath.Join(dir, "model-00006-of-00006.safetensors") {
			t.Errorf("ShardOf(lm_head) = %q", got)
		}
		if m.ShardOf("nope") != "" {
			t.Error("ShardOf(nope) is not empty")
		}
		_, err = m.Bytes("nope")
		wantErr(t, err, IndexFileName, `tensor "nope"`, "not found")
		m.Close()
	}
	// One shard opened alone is a model of its own.
	m, err := OpenModel(filepath.Join(dir, "model-00001-of-00006.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Names(); !reflect.DeepEqual(got, []string{"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight"}) {
		t.Errorf("shard 1 holds %v", got)
	}
}

func checkModel(t *testing.T, m *Model, tensors []Tensor, meta map[string]string) {
	t.Helper()
	var names []string
	for _, tt := range tensors {
		names = append(names, tt.Info.Name)
	}
	if !reflect.DeepEqual(m.Names(), names) {
		t.Errorf("Names() = %v, want %v", m.Names(), names)
	}
	if !reflect.DeepEqual(m.Metadata(), meta) {
		t.Errorf("Metadata() = %v, want %v", m.Metadata(), meta)
	}
	for _, tt := range tensors {
		b, err := m.Bytes(tt.Info.Name)
		if err != nil || string(b) != string(tt.Data) {
			t.Errorf("Bytes(%q): %v", tt.Info.Name, err)
		}
		info, ok := m.Info(tt.Info.Name)
		if !ok || info.DType != tt.Info.DType || !reflect.DeepEqual(info.Shape, tt.Info.Shape) {
			t.Errorf("Info(%q) = %+v", tt.Info.Name, info)
		}
		want := make([]float32, tt.Info.NumElements())
		DecodeFloat32(want, tt.Data, tt.Info.DType)
		got, err := m.Float32(tt.Info.Name)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Float32(%q): %v", tt.Info.Name, err)
		}
		dst := make([]float32, len(want))
		if err := m.ReadFloat32(tt.Info.Name, dst); err != nil || !reflect.DeepEqual(dst, want) {
			t.Errorf("ReadFloat32(%q): %v", tt.Info.Name, err)
		}
	}
}

// TestSingleShardAndStaleFiles: a model that fits one shard is written as
// model.safetensors without an index, and rewriting a directory removes the
// weights files of the previous layout.
func TestSingleShardAndStaleFiles(t *testing.T) {
	dir := t.TempDir()
	tensors := llamaLike()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	if err := WriteModel(dir, tensors, nil, 1100); err != nil {
		t.Fatal(err)
	}
	if err := WriteModel(dir, tensors, nil, 0); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"config.json", SingleFileName}) {
		t.Fatalf("after single write: %v", got)
	}
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, m, tensors, nil)
	if m.IndexPath() != "" || !reflect.DeepEqual(m.Shards(), []string{filepath.Join(dir, SingleFileName)}) {
		t.Errorf("IndexPath %q, Shards %v", m.IndexPath(), m.Shards())
	}
	m.Close()
	if err := WriteModel(dir, tensors, nil, 4000); err != nil {
		t.Fatal(err)
	}
	want := []string{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", IndexFileName}
	if got := dirEntries(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("after sharded write: %v, want %v", got, want)
	}
	m, err = OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, m, tensors, nil)
	m.Close()
}

// TestHandWrittenIndex reads shards through an index written by hand in
// transformers' format (a float total_size, as some tools write it).
func TestHandWrittenIndex(t *testing.T) {
	dir := t.TempDir()
	a := []Tensor{{TensorInfo{Name: "w1", DType: F32, Shape: []int{2}}, f32Bytes(1, 2)}, {TensorInfo{Name: "w2", DType: BF16, Shape: []int{2}}, bf16Bytes(3, 4)}}
	b := []Tensor{{TensorInfo{Name: "w3", DType: F16, Shape: []int{1}}, []byte{0x00, 0x3c}}}
	if err := WriteFile(filepath.Join(dir, "part-a.safetensors"), a, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "part-b.safetensors"), b, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	index := `{
  "metadata": {"total_size": 14.0, "format": "pt"},
  "weight_map": {
    "w3": "part-b.safetensors",
    "w1": "part-a.safetensors",
    "w2": "part-a.safetensors"
  }
}`
	ip := filepath.Join(dir, "custom.safetensors.index.json")
	os.WriteFile(ip, []byte(index), 0o644)
	for _, open := range []string{ip, dir} { // the directory has exactly one *.safetensors.index.json
		m, err := OpenModel(open)
		if err != nil {
			t.Fatal(err)
		}
		checkModel(t, m, append(append([]Tensor(nil), a...), b...), map[string]string{"format": "pt"})
		if v, _ := m.Float32("w3"); len(v) != 1 || v[0] != 1 {
			t.Errorf("w3 = %v, want [1]", v)
		}
		m.Close()
	}
}

func TestModelErrors(t *testing.T) {
	dir := t.TempDir()
	shard := func(name string, names ...string) {
		var ts []Tensor
		for _, n := range names {
			ts = append(ts, Tensor{TensorInfo{Name: n, DType: F32, Shape: []int{1}}, f32Bytes(1)})
		}
		if err := WriteFile(filepath.Join(dir, name), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	shard("s1.safetensors", "a", "b")
	shard("s2.safetensors", "c", "b")
	index := func(name string, wm map[string]string) string {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 12}, "weight_map": wm})
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	for _, c := range []struct {
		name string
		path string
		want []string
	}{
		{"missing shard", index("missing.json", map[string]string{"a": "s1.safetensors", "z": "s9.safetensors"}),
			[]string{"missing.json", "shard s9.safetensors", `"z"`, "missing", "no such file"}},
		{"absent tensor", index("absent.json", map[string]string{"a": "s1.safetensors", "q": "s1.safetensors"}),
			[]string{"absent.json", `tensor "q" is mapped to s1.safetensors, which does not hold it`}},
		{"two shards", index("dup.json", map[string]string{"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}),
			[]string{"dup.json", `tensor "b" is in two shards, s1.safetensors and s2.safetensors`}},
		{"escaping shard path", index("escape.json", map[string]string{"a": "../s1.safetensors"}),
			[]string{"escape.json", `tensor "a"`, `shard "../s1.safetensors" is not a file name`}},
		{"listed twice", writeFile(t, dir, "twice.json", `{"weight_map":{"a":"s1.safetensors","a":"s1.safetensors"}}`),
			[]string{"twice.json", `tensor "a" is listed twice`}},
		{"no weight map", writeFile(t, dir, "nomap.json", `{"metadata":{}}`),
			[]string{"nomap.json", `no "weight_map"`}},
		{"not JSON", writeFile(t, dir, "bad.json", `{"weight_map":`),
			[]string{"bad.json", "not a valid JSON object"}},
		{"no weights", t.TempDir(), []string{"no model.safetensors or model.safetensors.index.json"}},
		{"missing path", filepath.Join(dir, "nope"), []string{"nope", "no such file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := OpenModel(c.path)
			if err == nil {
				m.Close()
			}
			wantErr(t, err, c.want...)
		})
	}
	// A corrupt shard reports the shard's own path and tensor.
	writeRaw(t, dir, "s3.safetensors", `{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4))
	_, err := OpenModel(index("corrupt.json", map[string]string{"x": "s3.safetensors"}))
	wantErr(t, err, "s3.safetensors", `tensor "x"`, "run past the end")
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShardedInterrupted: Abort, a failing source in a later shard, or a
// missing tensor leave the directory as it was, without temporary files.
func TestShardedInterrupted(t *testing.T) {
	tensors := llamaLike()
	var specs []TensorInfo
	for _, tt := range tensors {
		specs = append(specs, tt.Info)
	}
	for _, c := range []struct {
		name string
		stop int // tensors written before the interruption
		how  func(sw *ShardedWriter) error
		want string
	}{
		{"abort", 7, func(sw *ShardedWriter) error { sw.Abort(); return sw.Close() }, "after Close or Abort"},
		{"failing reader", 7, func(sw *ShardedWriter) error {
			sw.WriteTensorFrom(specs[7].Name, &failingReader{n: 10})
			return sw.Close()
		}, "disk on fire"},
		{"missing tensors", 7, func(sw *ShardedWriter) error { return sw.Close() }, "is missing"},
		{"missing last shard", 12, func(sw *ShardedWriter) error { return sw.Close() }, `only 5 of 6 shards written; tensor "lm_head.weight" is missing`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
			sw, err := NewShardedWriter(dir, specs, nil, 1100)
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range tensors[:c.stop] {
				if err := sw.WriteTensor(tt.Info.Name, tt.Data); err != nil {
					t.Fatal(err)
				}
			}
			wantErr(t, c.how(sw), c.want)
			if got := dirEntries(t, dir); !reflect.DeepEqual(got, []string{"config.json"}) {
				t.Errorf("directory holds %v", got)
			}
		})
	}
}
