package delta

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/smt-go/smt/pkg/safetensors"
)

const hashA = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testMats returns matrices out of layout order, with distinct values.
func testMats(s int) []Matrix {
	mk := func(name string, pos ...int32) Matrix {
		m := Matrix{Name: name}
		for i := 0; i < len(pos); i += 2 {
			m.Rows = append(m.Rows, pos[i])
			m.Cols = append(m.Cols, pos[i+1])
		}
		for i := range len(m.Rows) * s * s {
			m.Values = append(m.Values, float32(len(name))+float32(i)/7)
		}
		return m
	}
	return []Matrix{
		mk("lm_head.weight", 0, 1),
		mk("model.layers.10.self_attn.q_proj.weight", 1, 0),
		mk("model.layers.2.self_attn.v_proj.weight", 3, 1, 0, 0, 2, 5),
		mk("model.layers.2.self_attn.q_proj.weight", 0, 0),
		mk("model.layers.2.mlp.down_proj.weight", 1, 1),
		mk("model.embed_tokens.weight", 4, 0),
	}
}

// layoutNames is testMats' names in layout order.
var layoutNames = []string{
	"model.embed_tokens.weight",
	"model.layers.2.self_attn.q_proj.weight",
	"model.layers.2.self_attn.v_proj.weight",
	"model.layers.2.mlp.down_proj.weight",
	"model.layers.10.self_attn.q_proj.weight",
	"lm_head.weight",
}

func testMeta(s int) Meta {
	return Meta{BaseModelHash: hashA, BlockSize: s, BlocksSHA256: hashA, Step: 300, Kept: KeptBest,
		EvalLoss: 0.8125, Train: `{"lr":1e-4,"epochs":3}`}
}

func TestRoundTrip(t *testing.T) {
	const s = 4
	path := filepath.Join(t.TempDir(), "delta.safetensors")
	mats := testMats(s)
	if err := Write(path, testMeta(s), mats); err != nil {
		t.Fatal(err)
	}
	meta, got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta != testMeta(s) {
		t.Errorf("meta = %+v, want %+v", meta, testMeta(s))
	}
	if len(got) != len(mats) {
		t.Fatalf("%d matrices, want %d", len(got), len(mats))
	}
	for i, g := range got {
		if g.Name != layoutNames[i] {
			t.Errorf("matrix %d is %q, want %q (layout order)", i, g.Name, layoutNames[i])
		}
		w := mats[slices.IndexFunc(mats, func(m Matrix) bool { return m.Name == g.Name })]
		if !slices.Equal(g.Rows, w.Rows) || !slices.Equal(g.Cols, w.Cols) || !slices.Equal(g.Values, w.Values) {
			t.Errorf("%s: read back %v %v, wrote %v %v", g.Name, g.Rows, g.Cols, w.Rows, w.Cols)
		}
	}
	// The stored tensors: ::blocks then ::index per matrix, layout order,
	// with the shapes and metadata of the format.
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	for _, n := range layoutNames {
		want = append(want, n+BlocksSuffix, n+IndexSuffix)
	}
	if !slices.Equal(f.Names(), want) {
		t.Errorf("stored tensors %v, want %v", f.Names(), want)
	}
	if info, _ := f.Info("model.layers.2.self_attn.v_proj.weight::blocks"); info.DType != safetensors.F32 || !slices.Equal(info.Shape, []int{3, s, s}) {
		t.Errorf("v blocks stored as %s %v", info.DType, info.Shape)
	}
	if info, _ := f.Info("model.layers.2.self_attn.v_proj.weight::index"); info.DType != safetensors.I32 || !slices.Equal(info.Shape, []int{3, 2}) {
		t.Errorf("v index stored as %s %v", info.DType, info.Shape)
	}
	idx, _ := f.Int32s("model.layers.2.self_attn.v_proj.weight::index")
	if !slices.Equal(idx, []int32{3, 1, 0, 0, 2, 5}) {
		t.Errorf("v index = %v", idx)
	}
	md := f.Metadata()
	for k, v := range map[string]string{"smt.format": "smt-delta/1", "smt.base_model_hash": hashA, "smt.block_size": "4",
		"smt.blocks_sha256": hashA, "smt.step": "300", "smt.kept": "best", "smt.eval_loss": "0.8125",
		"smt.train": `{"lr":1e-4,"epochs":3}`} {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
}

func TestRoundTripOptionalMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.safetensors")
	meta := Meta{BaseModelHash: hashA, BlockSize: 2, Step: 0, Kept: KeptLast, EvalLoss: math.NaN()}
	if err := Write(path, meta, testMats(2)[:1]); err != nil {
		t.Fatal(err)
	}
	got, _, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.HasEvalLoss() || got.EvalLoss != 0 || got.BlocksSHA256 != "" || got.Train != "" || got.Kept != KeptLast {
		t.Errorf("meta = %+v", got)
	}
	f, _ := safetensors.Open(path)
	defer f.Close()
	for _, k := range []string{"smt.eval_loss", "smt.blocks_sha256", "smt.train"} {
		if _, ok := f.Metadata()[k]; ok {
			t.Errorf("metadata has %s though the field is empty", k)
		}
	}
}

func TestWriteDeterministic(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	mats := testMats(4)
	if err := Write(a, testMeta(4), mats); err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(mats)
	slices.Reverse(rev)
	if err := Write(b, testMeta(4), rev); err != nil {
		t.Fatal(err)
	}
	if !sameBytes(t, a, b) {
		t.Fatal("the same delta written twice (matrices in another order) gives different bytes")
	}
	if !slices.Equal(mats[0].Rows, testMats(4)[0].Rows) || mats[0].Name != "lm_head.weight" {
		t.Fatal("Write reordered the caller's slice")
	}
	noLeftovers(t, dir, "a", "b")
}

func TestWriteRejects(t *testing.T) {
	dir := t.TempDir()
	mats := func(edit func([]Matrix) []Matrix) []Matrix { return edit(testMats(2)) }
	cases := []struct {
		name string
		meta func(*Meta)
		mats []Matrix
		want string
	}{
		{"no hash", func(m *Meta) { m.BaseModelHash = "" }, testMats(2), "smt.base_model_hash is missing"},
		{"bad hash", func(m *Meta) { m.BaseModelHash = "md5:abc" }, testMats(2), "smt.base_model_hash"},
		{"block size", func(m *Meta) { m.BlockSize = 0 }, testMats(2), "smt.block_size"},
		{"kept", func(m *Meta) { m.Kept = "first" }, testMats(2), "smt.kept"},
		{"train json", func(m *Meta) { m.Train = "{lr" }, testMats(2), "smt.train"},
		{"no matrices", nil, nil, "no matrices"},
		{"values", nil, mats(func(m []Matrix) []Matrix { m[1].Values = m[1].Values[1:]; return m }), "model.layers.10.self_attn.q_proj.weight"},
		{"cols", nil, mats(func(m []Matrix) []Matrix { m[2].Cols = m[2].Cols[:1]; return m }), "3 block rows but 1 block columns"},
		{"negative", nil, mats(func(m []Matrix) []Matrix { m[0].Rows[0] = -1; return m }), "negative position"},
		{"duplicate block", nil, mats(func(m []Matrix) []Matrix { m[2].Rows[1], m[2].Cols[1] = 3, 1; return m }), "both at (3, 1)"},
		{"duplicate tensor", nil, mats(func(m []Matrix) []Matrix { m[1].Name = m[0].Name; return m }), "given twice"},
		{"colons", nil, mats(func(m []Matrix) []Matrix { m[0].Name = "a::b"; return m }), `"::"`},
		{"empty", nil, []Matrix{{Name: "x"}}, "has no blocks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			meta := testMeta(2)
			if c.meta != nil {
				c.meta(&meta)
			}
			path := filepath.Join(dir, c.name)
			wantErr(t, Write(path, meta, c.mats), path, c.want)
			if _, err := os.Stat(path); err == nil {
				t.Error("a refused delta was written")
			}
		})
	}
	noLeftovers(t, dir)
}

// rawTensor is a tensor written as is, for files Write would refuse.
type rawTensor struct {
	name  string
	dtype safetensors.DType
	shape []int
	ints  []int32 // data of an I32 tensor; F32 tensors are zeros
}

func writeRawDelta(t *testing.T, path string, md map[string]string, ts ...rawTensor) {
	t.Helper()
	var tensors []safetensors.Tensor
	for _, r := range ts {
		info := safetensors.TensorInfo{Name: r.name, DType: r.dtype, Shape: r.shape}
		data := make([]byte, info.ByteSize())
		for i, v := range r.ints {
			binary.LittleEndian.PutUint32(data[4*i:], uint32(v))
		}
		tensors = append(tensors, safetensors.Tensor{Info: info, Data: data})
	}
	if err := safetensors.WriteFile(path, tensors, md); err != nil {
		t.Fatal(err)
	}
}

func TestReadRejects(t *testing.T) {
	dir := t.TempDir()
	goodMeta := func() map[string]string { return testMeta(2).encode() }
	const q = "model.layers.0.self_attn.q_proj.weight"
	blocks := func(shape ...int) rawTensor { return rawTensor{q + "::blocks", safetensors.F32, shape, nil} }
	index := func(ints ...int32) rawTensor {
		return rawTensor{q + "::index", safetensors.I32, []int{len(ints) / 2, 2}, ints}
	}
	withMeta := func(k, v string) map[string]string {
		md := goodMeta()
		if v == "" {
			delete(md, k)
		} else {
			md[k] = v
		}
		return md
	}
	cases := []struct {
		name    string
		md      map[string]string
		tensors []rawTensor
		want    string
	}{
		{"ok", goodMeta(), []rawTensor{blocks(2, 2, 2), index(0, 0, 1, 3)}, ""},
		{"no format", withMeta("smt.format", ""), []rawTensor{blocks(1, 2, 2), index(0, 0)}, "not an SMT delta"},
		{"wrong format", withMeta("smt.format", "smt-delta/2"), []rawTensor{blocks(1, 2, 2), index(0, 0)}, `"smt-delta/2"`},
		{"no metadata", nil, []rawTensor{blocks(1, 2, 2), index(0, 0)}, "not an SMT delta"},
		{"bad hash", withMeta("smt.base_model_hash", "sha256:xyz"), []rawTensor{blocks(1, 2, 2), index(0, 0)}, "smt.base_model_hash"},
		{"bad block size", withMeta("smt.block_size", "two"), []rawTensor{blocks(1, 2, 2), index(0, 0)}, "smt.block_size"},
		{"negative step", withMeta("smt.step", "-3"), []rawTensor{blocks(1, 2, 2), index(0, 0)}, "smt.step"},
		{"bad kept", withMeta("smt.kept", ""), []rawTensor{blocks(1, 2, 2), index(0, 0)}, "smt.kept"},
		{"bad loss", withMeta("smt.eval_loss", "NaN"), []rawTensor{blocks(1, 2, 2), index(0, 0)}, "smt.eval_loss"},
		{"blocks without index", goodMeta(), []rawTensor{blocks(1, 2, 2)}, `"` + q + `::blocks" has no "` + q + `::index"`},
		{"index without blocks", goodMeta(), []rawTensor{index(0, 0)}, `"` + q + `::index" has no "` + q + `::blocks"`},
		{"k mismatch", goodMeta(), []rawTensor{blocks(2, 2, 2), index(0, 0)}, "want [2, 2] to match 2 blocks"},
		{"not square", goodMeta(), []rawTensor{blocks(1, 2, 3), index(0, 0)}, "not square"},
		{"S not block size", goodMeta(), []rawTensor{blocks(1, 4, 4), index(0, 0)}, "smt.block_size is 2"},
		{"2-D blocks", goodMeta(), []rawTensor{blocks(2, 2), index(0, 0)}, "want [k, 2, 2]"},
		{"no blocks", goodMeta(), []rawTensor{blocks(0, 2, 2), {q + "::index", safetensors.I32, []int{0, 2}, nil}}, "holds no blocks"},
		{"F16 blocks", goodMeta(), []rawTensor{{q + "::blocks", safetensors.F16, []int{1, 2, 2}, nil}, index(0, 0)}, "dtype F16, want F32"},
		{"I64 index", goodMeta(), []rawTensor{blocks(1, 2, 2), {q + "::index", safetensors.I64, []int{1, 2}, nil}}, "dtype I64, want I32"},
		{"index 3 wide", goodMeta(), []rawTensor{blocks(1, 2, 2), {q + "::index", safetensors.I32, []int{1, 3}, nil}}, "shape [1 3]"},
		{"duplicate", goodMeta(), []rawTensor{blocks(2, 2, 2), index(1, 2, 1, 2)}, "both at (1, 2)"},
		{"negative", goodMeta(), []rawTensor{blocks(1, 2, 2), index(0, -1)}, "negative position (0, -1)"},
		{"stray tensor", goodMeta(), []rawTensor{blocks(1, 2, 2), index(0, 0), {"model.norm.weight", safetensors.F32, []int{4}, nil}}, `"model.norm.weight": name does not end in ::blocks or ::index`},
		{"empty name", goodMeta(), []rawTensor{{"::blocks", safetensors.F32, []int{1, 2, 2}, nil}, {"::index", safetensors.I32, []int{1, 2}, nil}}, "empty name"},
		{"no tensors", goodMeta(), nil, "no matrices"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".safetensors")
			writeRawDelta(t, path, c.md, c.tensors...)
			_, _, err := Read(path)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, path, c.want)
		})
	}
}

func TestReadDamaged(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := Write(good, testMeta(2), testMats(2)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"truncated": data[:len(data)-5],
		"short":     data[:6],
		"garbage":   []byte("this is not a safetensors file at all"),
		"empty":     nil,
	}
	for name, b := range cases {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := Read(path)
		wantErr(t, err, path)
	}
	_, _, err := Read(filepath.Join(dir, "missing"))
	wantErr(t, err, "missing", "no such file")
}

func TestLayoutOrder(t *testing.T) {
	names := []string{
		"zzz.extra", "lm_head.weight", "model.norm.weight",
		"model.layers.1.mlp.down_proj.weight", "model.layers.1.self_attn.o_proj.weight",
		"model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
		"model.layers.1.self_attn.k_proj.weight", "model.layers.1.custom.weight",
		"model.layers.0.self_attn.v_proj.weight", "model.embed_tokens.weight",
	}
	var mats []Matrix
	for _, n := range names {
		mats = append(mats, Matrix{Name: n})
	}
	var got []string
	for _, m := range sortLayout(mats) {
		got = append(got, m.Name)
	}
	want := []string{
		"model.embed_tokens.weight", "model.layers.0.self_attn.v_proj.weight",
		"model.layers.1.self_attn.k_proj.weight", "model.layers.1.self_attn.o_proj.weight",
		"model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
		"model.layers.1.mlp.down_proj.weight", "model.layers.1.custom.weight",
		"model.norm.weight", "lm_head.weight", "zzz.extra",
	}
	if !slices.Equal(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
}
