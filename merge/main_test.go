package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/delta"
	"github.com/smt-go/smt/pkg/llama"
)

const stories = "../models/stories260K"

// buildMerge builds this command into a temp dir.
func buildMerge(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	bin := filepath.Join(t.TempDir(), "merge")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBin runs the binary and returns its exit code, stdout and stderr.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	o, e, code := testutil.RunCmd(t, exec.Command(bin, args...))
	return code, o, e
}

// writeDelta writes a one-block delta for stories260K's layer 1 v_proj
// claiming the given base hash.
func writeDelta(t *testing.T, path, hash string) {
	t.Helper()
	const s = 16
	vals := make([]float32, s*s)
	for i := range vals {
		vals[i] = float32(i) / 1000
	}
	m := delta.Matrix{Name: "model.layers.1.self_attn.v_proj.weight", Rows: []int32{1}, Cols: []int32{2}, Values: vals}
	meta := delta.Meta{BaseModelHash: hash, BlockSize: s, Step: 10, Kept: delta.KeptLast}
	if err := delta.Write(path, meta, []delta.Matrix{m}); err != nil {
		t.Fatal(err)
	}
}

func TestMergeBinary(t *testing.T) {
	bin := buildMerge(t)
	hash, err := llama.HashWeights(stories)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	good := filepath.Join(work, "good.safetensors")
	writeDelta(t, good, hash)
	wrong := filepath.Join(work, "wrong.safetensors")
	writeDelta(t, wrong, "sha256:"+strings.Repeat("0", 64))

	t.Run("help", func(t *testing.T) {
		code, out, _ := runBin(t, bin, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--force") {
			t.Errorf("exit %d, help:\n%s", code, out)
		}
	})
	t.Run("merge", func(t *testing.T) {
		dst := filepath.Join(work, "merged")
		code, out, errOut := runBin(t, bin, "--model", stories, "--delta", good, "--out", dst)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"merged:   " + dst, "1 patched, 1 blocks of 16×16", "256 overwritten", "model.safetensors"} {
			if !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(dst, "tokenizer.model")); err != nil {
			t.Error(err)
		}
	})
	t.Run("json", func(t *testing.T) {
		dst := filepath.Join(work, "merged-json")
		code, out, errOut := runBin(t, bin, "--base", stories, "--delta", good, "--out", dst, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rep delta.MergeReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
		}
		if rep.Tensors != 1 || rep.Blocks != 1 || rep.ParamsPatched != 256 || rep.Out != dst || rep.BaseHash != hash {
			t.Errorf("report %+v", rep)
		}
		for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
			if line != "" && !json.Valid([]byte(line)) {
				t.Errorf("--json progress line is not JSON: %s", line)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		dst := filepath.Join(work, "refused")
		code, _, errOut := runBin(t, bin, "--model", stories, "--delta", wrong, "--out", dst)
		if code != 1 || !strings.Contains(errOut, "smt.base_model_hash") || !strings.Contains(errOut, "--force") {
			t.Errorf("exit %d, stderr: %s", code, errOut)
		}
		if _, err := os.Stat(dst); err == nil {
			t.Error("a refused merge wrote its output")
		}
	})
	t.Run("forced", func(t *testing.T) {
		dst := filepath.Join(work, "forced")
		code, out, errOut := runBin(t, bin, "--model", stories, "--delta", wrong, "--out", dst, "--force")
		if code != 0 || !strings.Contains(errOut, "warning") || !strings.Contains(out, "warning:") {
			t.Errorf("exit %d, stdout %s, stderr %s", code, out, errOut)
		}
	})
	t.Run("missing base", func(t *testing.T) {
		code, _, errOut := runBin(t, bin, "--model", filepath.Join(work, "nope"), "--delta", good, "--out", filepath.Join(work, "x"))
		if code != 1 || !strings.Contains(errOut, "nope") {
			t.Errorf("exit %d, stderr: %s", code, errOut)
		}
	})
	for name, args := range map[string][]string{
		"no flags":     nil,
		"missing out":  {"--model", stories, "--delta", good},
		"unknown flag": {"--model", stories, "--delta", good, "--out", "x", "--shards", "3"},
		"extra arg":    {"--model", stories, "--delta", good, "--out", "x", "extra"},
	} {
		t.Run("usage/"+name, func(t *testing.T) {
			code, _, errOut := runBin(t, bin, args...)
			if code != 2 || errOut == "" {
				t.Errorf("exit %d, stderr %q; want 2 and a message", code, errOut)
			}
		})
	}
	entries, _ := os.ReadDir(work)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
