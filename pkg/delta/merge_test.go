package delta

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/safetensors"
)

const (
	q0 = "model.layers.0.self_attn.q_proj.weight"
	k1 = "model.layers.1.self_attn.k_proj.weight"
	v1 = "model.layers.1.self_attn.v_proj.weight"
	v4 = "model.layers.4.self_attn.v_proj.weight"
	o2 = "model.layers.2.self_attn.o_proj.weight"
	g0 = "model.layers.0.mlp.gate_proj.weight"
)

// stdPicks are blocks of 16×16 in stories260K's q/k/v/o matrices and its
// embedding, given out of layout order.
var stdPicks = []pick{
	{v4, 1, 3}, {q0, 0, 0}, {q0, 3, 2}, {v1, 0, 1}, {v1, 1, 0}, {v1, 1, 3},
	{k1, 1, 1}, {o2, 2, 2}, {"model.embed_tokens.weight", 31, 3}, {v4, 0, 0},
}

func TestMergeFloat32(t *testing.T) {
	const s = 16
	base := copyTree(t, stories)
	writeFile(t, filepath.Join(base, "original", "params.json"), `{"dim": 64}`)
	writeFile(t, filepath.Join(base, "pytorch_model.bin"), "stale weights")
	writeFile(t, filepath.Join(base, ".gitattributes"), "*.safetensors filter=lfs")
	meta, mats := makeDelta(t, base, s, 0.05, stdPicks)
	// One block keeps the base's values exactly: patched, not changed.
	_, same := makeDelta(t, base, s, 0, []pick{{"model.layers.3.self_attn.q_proj.weight", 1, 1}})
	mats = append(mats, same...)
	deltaPath := filepath.Join(t.TempDir(), "delta.safetensors")
	if err := Write(deltaPath, meta, mats); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	out := filepath.Join(work, "merged")
	rep, err := Merge(context.Background(), base, deltaPath, out, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed := checkMerged(t, base, out, s, mats)
	if rep.Tensors != 7 || rep.Blocks != 11 || rep.ParamsPatched != 11*s*s {
		t.Errorf("report: %d tensors, %d blocks, %d params; want 7, 11, %d", rep.Tensors, rep.Blocks, rep.ParamsPatched, 11*s*s)
	}
	if rep.ParamsChanged != changed || changed > 10*s*s || changed < 10*s*s-20 {
		t.Errorf("report: %d params changed, counted %d (want about %d)", rep.ParamsChanged, changed, 10*s*s)
	}
	if rep.ModelParams == 0 || rep.BaseHash != meta.BaseModelHash || rep.Forced || rep.Step != 42 || rep.Kept != "best" {
		t.Errorf("report: %+v", rep)
	}
	if !slices.Equal(rep.WeightFiles, []string{"model.safetensors"}) {
		t.Errorf("weight files %v", rep.WeightFiles)
	}
	if !sameBytes(t, filepath.Join(base, "original", "params.json"), filepath.Join(out, "original", "params.json")) {
		t.Error("a file in a subdirectory was not copied")
	}
	for _, n := range []string{"pytorch_model.bin", ".gitattributes"} {
		if _, err := os.Stat(filepath.Join(out, n)); err == nil {
			t.Errorf("%s was copied", n)
		}
		if !slices.Contains(rep.Skipped, n) {
			t.Errorf("%s not reported as skipped: %v", n, rep.Skipped)
		}
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "pytorch_model.bin") {
		t.Errorf("warnings %q", rep.Warnings)
	}
	noLeftovers(t, work, "merged")

	// The same merge again gives the same bytes, and replaces the
	// earlier output atomically.
	if _, err := Merge(context.Background(), base, deltaPath, filepath.Join(work, "again"), MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"model.safetensors", "config.json", "tokenizer.model"} {
		if !sameBytes(t, filepath.Join(out, n), filepath.Join(work, "again", n)) {
			t.Errorf("%s differs between two merges of the same input", n)
		}
	}
	writeFile(t, filepath.Join(out, "stale.txt"), "from an earlier model")
	if _, err := Merge(context.Background(), base, deltaPath, out, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "stale.txt")); err == nil {
		t.Error("an earlier output directory was not replaced")
	}
	noLeftovers(t, work, "merged", "again")
}

func TestMergeHalfSharded(t *testing.T) {
	for _, dt := range []safetensors.DType{safetensors.BF16, safetensors.F16} {
		t.Run(string(dt), func(t *testing.T) {
			const s = 16
			base := convertBase(t, dt, 60_000, nil)
			if _, err := os.Stat(filepath.Join(base, safetensors.IndexFileName)); err != nil {
				t.Fatal("the test base is not sharded")
			}
			meta, mats := makeDelta(t, base, s, 0.05, stdPicks)
			// Ties between two representable values: nearest even wins.
			// In BF16, 1+2⁻⁸ lies halfway between 1 (0x3F80, even) and
			// 1+2⁻⁷ (0x3F81); 1+3·2⁻⁸ halfway between 0x3F81 and 0x3F82.
			// In F16, 1+2⁻¹¹ lies between 0x3C00 and 0x3C01.
			tieDown, tieUp := float32(1+1.0/256), float32(1+3.0/256)
			wantDown, wantUp := []byte{0x80, 0x3f}, []byte{0x82, 0x3f}
			if dt == safetensors.F16 {
				tieDown, tieUp = float32(1+1.0/2048), float32(1+3.0/2048)
				wantDown, wantUp = []byte{0x00, 0x3c}, []byte{0x02, 0x3c}
			}
			q := slices.IndexFunc(mats, func(m Matrix) bool { return m.Name == q0 })
			mats[q].Values[0], mats[q].Values[1] = tieDown, tieUp // block (0,0), elements (0,0) and (0,1)
			if err := Write(filepath.Join(t.TempDir(), "d"), meta, mats); err != nil {
				t.Fatal(err)
			}
			deltaPath := filepath.Join(t.TempDir(), "delta.safetensors")
			if err := Write(deltaPath, meta, mats); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "merged")
			rep, err := Merge(context.Background(), base, deltaPath, out, MergeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkMerged(t, base, out, s, mats)
			// The same shard files as the base, each with the base's tensors.
			bm, _ := safetensors.ReadIndex(filepath.Join(base, safetensors.IndexFileName))
			om, err := safetensors.ReadIndex(filepath.Join(out, safetensors.IndexFileName))
			if err != nil {
				t.Fatal(err)
			}
			if len(bm.Shards()) < 3 || !slices.Equal(bm.Shards(), om.Shards()) {
				t.Errorf("shards %v, base %v", om.Shards(), bm.Shards())
			}
			for _, shard := range bm.Shards() {
				b, _ := safetensors.Open(filepath.Join(base, shard))
				o, err := safetensors.Open(filepath.Join(out, shard))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(b.Names(), o.Names()) {
					t.Errorf("%s holds %v, base %v", shard, o.Names(), b.Names())
				}
				b.Close()
				o.Close()
			}
			if !slices.Contains(rep.WeightFiles, safetensors.IndexFileName) || len(rep.WeightFiles) != len(bm.Shards())+1 {
				t.Errorf("weight files %v", rep.WeightFiles)
			}
			if _, err := os.Stat(filepath.Join(out, safetensors.SingleFileName)); err == nil {
				t.Error("a sharded base gave a model.safetensors")
			}
			m, _ := safetensors.OpenModel(out)
			defer m.Close()
			raw, _ := m.Bytes(q0)
			if got := raw[:4]; !slices.Equal(got[:2], wantDown) || !slices.Equal(got[2:], wantUp) {
				t.Errorf("ties rounded to % x, want % x % x", got, wantDown, wantUp)
			}
		})
	}
}

// mergeFails runs a merge expected to fail and checks its error and that
// nothing was left next to the output.
func mergeFails(t *testing.T, base, deltaPath string, opts MergeOptions, want ...string) {
	t.Helper()
	work := t.TempDir()
	_, err := Merge(context.Background(), base, deltaPath, filepath.Join(work, "merged"), opts)
	wantErr(t, err, want...)
	noLeftovers(t, work)
}

func TestMergeRefuses(t *testing.T) {
	const s = 16
	base := copyTree(t, stories)
	dir := t.TempDir()
	write := func(name string, meta Meta, mats []Matrix) string {
		t.Helper()
		p := filepath.Join(dir, name+".safetensors")
		if err := Write(p, meta, mats); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meta, mats := makeDelta(t, base, s, 0.05, stdPicks)

	t.Run("hash mismatch", func(t *testing.T) {
		other := meta
		other.BaseModelHash = hashA
		p := write("other", other, mats)
		mergeFails(t, base, p, MergeOptions{}, p, hashA, meta.BaseModelHash, "smt.base_model_hash", "--force")
		_, err := Merge(context.Background(), base, p, filepath.Join(t.TempDir(), "m"), MergeOptions{})
		if !errors.Is(err, ErrHashMismatch) {
			t.Errorf("error %v is not ErrHashMismatch", err)
		}
		out := filepath.Join(t.TempDir(), "forced")
		rep, err := Merge(context.Background(), base, p, out, MergeOptions{Force: true})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Forced || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], hashA) {
			t.Errorf("forced merge: forced=%v warnings %q", rep.Forced, rep.Warnings)
		}
		checkMerged(t, base, out, s, mats)
	})
	t.Run("tensor missing", func(t *testing.T) {
		_, extra := makeDelta(t, base, s, 0, []pick{{"model.layers.7.self_attn.q_proj.weight", 0, 0}})
		p := write("missing", meta, append(slices.Clone(mats), extra...))
		mergeFails(t, base, p, MergeOptions{}, `"model.layers.7.self_attn.q_proj.weight" of the delta is not in the base model`)
	})
	t.Run("not 2-D", func(t *testing.T) {
		_, extra := makeDelta(t, base, 4, 0, []pick{{"model.norm.weight", 0, 0}})
		m4, _ := makeDelta(t, base, 4, 0, nil)
		p := write("norm", m4, extra)
		mergeFails(t, base, p, MergeOptions{}, `"model.norm.weight" is not a 2-D matrix`, "[64]")
	})
	t.Run("block outside", func(t *testing.T) {
		_, extra := makeDelta(t, base, s, 0, []pick{{k1, 2, 0}})
		p := write("outside", meta, extra)
		mergeFails(t, base, p, MergeOptions{}, "block 0 at (2, 0) lies outside tensor", k1, "[32, 64]", "2×4 blocks")
		_, extra = makeDelta(t, base, s, 0, []pick{{q0, 0, 4}})
		p = write("outside2", meta, extra)
		mergeFails(t, base, p, MergeOptions{}, "(0, 4) lies outside", q0)
	})
	t.Run("size does not divide", func(t *testing.T) {
		_, extra := makeDelta(t, base, s, 0, []pick{{g0, 0, 0}})
		p := write("divide", meta, extra)
		mergeFails(t, base, p, MergeOptions{}, "block size 16 does not divide", g0, "[172, 64]")
	})
	t.Run("non-finite", func(t *testing.T) {
		bad := slices.Clone(mats)
		bad[1].Values = slices.Clone(bad[1].Values)
		bad[1].Values[s*s+s+2] = float32(math.NaN())
		p := write("nan", meta, bad)
		mergeFails(t, base, p, MergeOptions{}, q0, "block 1 at (3, 2) holds NaN at row 1, column 2")
	})
	t.Run("corrupt delta", func(t *testing.T) {
		good := write("good", meta, mats)
		data, _ := os.ReadFile(good)
		p := filepath.Join(dir, "corrupt.safetensors")
		os.WriteFile(p, data[:len(data)-100], 0o644)
		mergeFails(t, base, p, MergeOptions{}, p, "truncated")
		p2 := filepath.Join(dir, "header.safetensors")
		bad := slices.Clone(data)
		copy(bad[8:], `{"x":`)
		os.WriteFile(p2, bad, 0o644)
		mergeFails(t, base, p2, MergeOptions{}, p2, "header")
		mergeFails(t, base, filepath.Join(dir, "absent.safetensors"), MergeOptions{}, "absent.safetensors", "no such file")
		// A model file is not a delta.
		mergeFails(t, base, filepath.Join(base, "model.safetensors"), MergeOptions{}, "not an SMT delta")
	})
	t.Run("unsupported dtype", func(t *testing.T) {
		i8 := convertBase(t, safetensors.F32, 0, func(ten *safetensors.Tensor) {
			if ten.Info.Name == v1 {
				ten.Info.DType = safetensors.I8
				ten.Data = make([]byte, ten.Info.NumElements())
			}
		})
		m, ms := makeDelta(t, i8, s, 0.05, stdPicks)
		p := write("i8", m, ms)
		mergeFails(t, i8, p, MergeOptions{}, v1, "has dtype I8")
	})
	t.Run("base without weights", func(t *testing.T) {
		empty := t.TempDir()
		writeFile(t, filepath.Join(empty, "config.json"), "{}")
		mergeFails(t, empty, write("ok", meta, mats), MergeOptions{}, "no .safetensors files")
	})
}

func TestMergeOutputPaths(t *testing.T) {
	base := copyTree(t, stories)
	meta, mats := makeDelta(t, base, 16, 0.05, stdPicks)
	work := t.TempDir()
	run := filepath.Join(work, "run")
	deltaPath := filepath.Join(run, "delta.safetensors")
	os.MkdirAll(run, 0o755)
	if err := Write(deltaPath, meta, mats); err != nil {
		t.Fatal(err)
	}
	notModel := filepath.Join(work, "notes")
	writeFile(t, filepath.Join(notModel, "todo.txt"), "keep me")
	cases := []struct{ out, want string }{
		{base, "is or holds the base model directory"},
		{filepath.Dir(base), "is or holds the base model directory"},
		{filepath.Join(base, "sub"), "is inside the base model directory"},
		{run, "holds the delta"},
		{notModel, "not a model directory"},
		{filepath.Join(notModel, "todo.txt"), "not a directory"},
	}
	for _, c := range cases {
		_, err := Merge(context.Background(), base, deltaPath, c.out, MergeOptions{})
		wantErr(t, err, c.out, c.want)
	}
	if b, _ := os.ReadFile(filepath.Join(notModel, "todo.txt")); string(b) != "keep me" {
		t.Error("a refused output directory was touched")
	}
	noLeftovers(t, work, "run", "notes")
	// A run directory stands for its delta.safetensors.
	rep, err := Merge(context.Background(), base, run, filepath.Join(work, "merged"), MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Delta != deltaPath {
		t.Errorf("delta read from %s, want %s", rep.Delta, deltaPath)
	}
}

func TestMergeInterrupted(t *testing.T) {
	base := convertBase(t, safetensors.BF16, 60_000, nil)
	meta, mats := makeDelta(t, base, 16, 0.05, stdPicks)
	deltaPath := filepath.Join(t.TempDir(), "delta.safetensors")
	if err := Write(deltaPath, meta, mats); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	out := filepath.Join(work, "merged")

	boom := errors.New("disk on fire")
	n := 0
	_, err := Merge(context.Background(), base, deltaPath, out, MergeOptions{afterTensor: func(string) error {
		if n++; n == 20 { // midway: some shards written, one in progress
			return boom
		}
		return nil
	}})
	if !errors.Is(err, boom) || n != 20 {
		t.Fatalf("err = %v after %d tensors", err, n)
	}
	noLeftovers(t, work)

	// Cancelled midway, with an earlier model at the output: it stays.
	if _, err := Merge(context.Background(), base, deltaPath, out, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(out, safetensors.IndexFileName))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other, omats := makeDelta(t, base, 16, 0.5, stdPicks[:3])
	otherPath := filepath.Join(t.TempDir(), "other.safetensors")
	if err := Write(otherPath, other, omats); err != nil {
		t.Fatal(err)
	}
	n = 0
	_, err = Merge(ctx, base, otherPath, out, MergeOptions{afterTensor: func(string) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	noLeftovers(t, work, "merged")
	after, _ := os.ReadFile(filepath.Join(out, safetensors.IndexFileName))
	if !slices.Equal(before, after) {
		t.Error("the earlier output changed")
	}
	checkMerged(t, base, out, 16, mats)
}
