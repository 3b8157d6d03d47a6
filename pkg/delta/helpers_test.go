package delta

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/safetensors"
)

// stories is the real stories260K model directory (float32, one file).
const stories = "../../models/stories260K"

// wantErr fails unless err is non-nil and its text holds every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

// copyTree copies the regular files of src (one level) into a new temp
// dir and returns it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// writeFile writes a file, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// convertBase writes a copy of the stories260K model dir with its weights
// in dtype, sharded at shardBytes (≤ 0: one file), with config.json's
// torch_dtype set accordingly and every other file copied. convert, when
// set, may change a tensor's spec and data (used to plant odd dtypes).
func convertBase(t *testing.T, dtype safetensors.DType, shardBytes int64, convert func(*safetensors.Tensor)) string {
	t.Helper()
	src, err := safetensors.OpenModel(stories)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var tensors []safetensors.Tensor
	for _, info := range src.Tensors() {
		vals, err := src.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, len(vals)*dtype.Size())
		for i, v := range vals { // element by element, not through EncodeFloat32
			switch dtype {
			case safetensors.BF16:
				binary.LittleEndian.PutUint16(data[2*i:], safetensors.Float32ToBF16(v))
			case safetensors.F16:
				binary.LittleEndian.PutUint16(data[2*i:], safetensors.Float32ToF16(v))
			case safetensors.F32:
				binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
			}
		}
		ten := safetensors.Tensor{Info: safetensors.TensorInfo{Name: info.Name, DType: dtype, Shape: info.Shape}, Data: data}
		if convert != nil {
			convert(&ten)
		}
		tensors = append(tensors, ten)
	}
	dir := copyTree(t, stories)
	for _, f := range []string{"model.safetensors"} {
		os.Remove(filepath.Join(dir, f))
	}
	if err := safetensors.WriteModel(dir, tensors, map[string]string{"format": "pt"}, shardBytes); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["torch_dtype"] = map[safetensors.DType]string{safetensors.F32: "float32", safetensors.BF16: "bfloat16", safetensors.F16: "float16"}[dtype]
	b, _ = json.MarshalIndent(cfg, "", "  ")
	writeFile(t, filepath.Join(dir, "config.json"), string(b)+"\n")
	return dir
}

// pick is one block to train: tensor name, block row and column.
type pick struct {
	name string
	r, c int32
}

// makeDelta returns a delta for the base dir with the picked blocks, whose
// values are the base's plus noise of relative size noise (0: the base's
// values unchanged), and metadata naming the base's hash.
func makeDelta(t *testing.T, baseDir string, s int, noise float64, picks []pick) (Meta, []Matrix) {
	t.Helper()
	h, err := llama.HashWeights(baseDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := safetensors.OpenModel(baseDir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	byName := map[string]*Matrix{}
	var order []string
	for _, p := range picks {
		mat := byName[p.name]
		if mat == nil {
			mat = &Matrix{Name: p.name}
			byName[p.name] = mat
			order = append(order, p.name)
		}
		mat.Rows = append(mat.Rows, p.r)
		mat.Cols = append(mat.Cols, p.c)
		info, ok := m.Info(p.name)
		var w []float32
		ok = ok && info.DType.IsFloat()
		if ok {
			if w, err = m.Float32(p.name); err != nil {
				t.Fatal(err)
			}
		}
		for y := range s {
			for x := range s {
				v := float32(rng.NormFloat64() * 0.02)
				if ok && len(info.Shape) == 2 && (int(p.r)*s+y) < info.Shape[0] && (int(p.c)*s+x) < info.Shape[1] {
					b := w[(int(p.r)*s+y)*info.Shape[1]+int(p.c)*s+x]
					v = b + float32(noise*rng.NormFloat64())*max(float32(math.Abs(float64(b))), 1e-3)
				}
				mat.Values = append(mat.Values, v)
			}
		}
	}
	var mats []Matrix
	for _, n := range order {
		mats = append(mats, *byName[n])
	}
	meta := Meta{BaseModelHash: h, BlockSize: s, BlocksSHA256: "sha256:" + strings.Repeat("ab", 32),
		Step: 42, Kept: KeptBest, EvalLoss: 1.25, Train: `{"lr":0.001}`}
	return meta, mats
}

// encodeOne returns the stored bytes of v in dtype, element by element
// (independent of EncodeFloat32's bulk path).
func encodeOne(dt safetensors.DType, v float32) []byte {
	switch dt {
	case safetensors.BF16:
		return binary.LittleEndian.AppendUint16(nil, safetensors.Float32ToBF16(v))
	case safetensors.F16:
		return binary.LittleEndian.AppendUint16(nil, safetensors.Float32ToF16(v))
	case safetensors.F64:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(float64(v)))
	}
	return binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))
}

// checkMerged verifies a merged directory against its base and delta: the
// same weights files with the same tensors per shard and the same index
// bytes; every tensor the delta does not touch bit-identical; in patched
// tensors every element outside the blocks bit-identical and every element
// inside equal to the delta's value rounded into the base dtype; every
// non-weight file of the base copied. It returns the number of elements
// whose bits changed.
func checkMerged(t *testing.T, baseDir, outDir string, s int, mats []Matrix) int64 {
	t.Helper()
	base, err := safetensors.OpenModel(baseDir)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	out, err := safetensors.OpenModel(outDir)
	if err != nil {
		t.Fatalf("merged model does not open: %v", err)
	}
	defer out.Close()
	if !slices.Equal(base.Names(), out.Names()) {
		t.Fatalf("tensor names differ:\nbase %v\nout  %v", base.Names(), out.Names())
	}
	if bi, oi := base.IndexPath(), out.IndexPath(); (bi == "") != (oi == "") {
		t.Fatalf("index: base %q, out %q", bi, oi)
	} else if bi != "" {
		if filepath.Base(bi) != filepath.Base(oi) || !sameBytes(t, bi, oi) {
			t.Fatalf("index %s differs from the base's %s", oi, bi)
		}
	}
	byName := map[string]*Matrix{}
	for i := range mats {
		byName[mats[i].Name] = &mats[i]
	}
	var changed int64
	for _, name := range base.Names() {
		bi, _ := base.Info(name)
		oi, _ := out.Info(name)
		if bi.DType != oi.DType || !slices.Equal(bi.Shape, oi.Shape) {
			t.Fatalf("%s: base %s %v, out %s %v", name, bi.DType, bi.Shape, oi.DType, oi.Shape)
		}
		if bs, os := filepath.Base(base.ShardOf(name)), filepath.Base(out.ShardOf(name)); bs != os {
			t.Fatalf("%s: in shard %s, base has it in %s", name, os, bs)
		}
		bb, _ := base.Bytes(name)
		ob, _ := out.Bytes(name)
		m := byName[name]
		if m == nil {
			if !slices.Equal(bb, ob) {
				t.Fatalf("%s: not in the delta but its bytes changed", name)
			}
			continue
		}
		es, cols := bi.DType.Size(), bi.Shape[1]
		inBlock := map[[2]int]float32{}
		for b := range m.Rows {
			for y := range s {
				for x := range s {
					inBlock[[2]int{int(m.Rows[b])*s + y, int(m.Cols[b])*s + x}] = m.Values[(b*s+y)*s+x]
				}
			}
		}
		for i := 0; i < bi.NumElements(); i++ {
			got, old := ob[i*es:(i+1)*es], bb[i*es:(i+1)*es]
			v, ok := inBlock[[2]int{i / cols, i % cols}]
			if !ok {
				if !slices.Equal(got, old) {
					t.Fatalf("%s: element (%d, %d) outside the blocks changed", name, i/cols, i%cols)
				}
				continue
			}
			if want := encodeOne(bi.DType, v); !slices.Equal(got, want) {
				t.Fatalf("%s: element (%d, %d) = % x, want % x (%v in %s)", name, i/cols, i%cols, got, want, v, bi.DType)
			}
			if !slices.Equal(got, old) {
				changed++
			}
		}
	}
	// Non-weight files.
	ents, _ := os.ReadDir(baseDir)
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || isWeightFile(n) || strings.HasPrefix(n, ".") {
			continue
		}
		if !sameBytes(t, filepath.Join(baseDir, n), filepath.Join(outDir, n)) {
			t.Fatalf("%s was not copied unchanged", n)
		}
	}
	return changed
}

// sameBytes reports whether two files have the same content (false if the
// second is missing).
func sameBytes(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	return err == nil && slices.Equal(x, y)
}

// noLeftovers fails if dir holds anything other than the names in keep
// (temporary directories of an aborted merge included).
func noLeftovers(t *testing.T, dir string, keep ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !slices.Contains(keep, e.Name()) {
			t.Errorf("left behind in %s: %s", dir, e.Name())
		}
	}
}
