package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/blocks"
	"github.com/smt-go/smt/pkg/blocks/blockstest"
	"github.com/smt-go/smt/pkg/scores"
)

const storiesDir = "../models/stories260K"

var bin string // the select binary, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "select-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "select")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.RemoveAll(dir)
		panic("go build: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs the binary and returns its exit code, stdout and stderr.
func runBin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

// writeScores writes stories260K-shaped scores (q, k, v, 32-blocks; v
// scored higher) with the real writer and returns the path.
func writeScores(t *testing.T, dir string) string {
	t.Helper()
	sm, sb := blockstest.Scores(blockstest.Stories260K, 32, []string{"q", "k", "v"}, map[string]float32{"v": 2}, 1)
	p := filepath.Join(dir, "scores.arrow")
	if err := scores.Write(p, sm, sb); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSelectEndToEnd(t *testing.T) {
	dir := t.TempDir()
	sp := writeScores(t, dir)
	out := filepath.Join(dir, "run", "blocks.arrow")
	os.MkdirAll(filepath.Dir(out), 0o755)
	code, stdout, stderr := runBin(t, "--scores", sp, "--out", out, "--budget", "12", "--model", storiesDir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"selected   12 blocks of 32×32 = 12.3K parameters = 4.207% of the model's 292.1K 2-D parameters (285.25 blocks)",
		"policy     attn, score mean_abs, 5 layers",
		"  attn  q,k,v  12          12       40",
		"  v    ", "  all  ",
		"blocks     " + out,
		"heat map   " + filepath.Join(dir, "run", "blocks.png"),
		"model      " + storiesDir,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	meta, es, err := blocks.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 12 || meta.Counts["attn"] != 12 || meta.Policy != "attn" || meta.Score != "mean_abs" || meta.Budget != "12" || meta.BlockSize != 32 {
		t.Fatalf("blocks.arrow: %d entries, meta %+v", len(es), meta)
	}
	data, _ := os.ReadFile(sp)
	if sum := sha256.Sum256(data); meta.ScoresSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("scores_sha256 %s does not match the scores file", meta.ScoresSHA256)
	}
	// The per-kind lines agree with the file.
	n := map[string]int{}
	for _, e := range es {
		n[e.Kind]++
	}
	for _, k := range []string{"q", "k", "v"} {
		found := false
		for _, line := range strings.Split(stdout, "\n") {
			f := strings.Fields(line)
			if len(f) == 5 && f[0] == k && f[1] == itoa(n[k]) {
				found = true
			}
		}
		if !found {
			t.Errorf("no per-kind line for %s with %d blocks:\n%s", k, n[k], stdout)
		}
	}
	f, err := os.Open(filepath.Join(dir, "run", "blocks.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("heat map: %v", err)
	}
	if !strings.Contains(stderr, "wrote 12 blocks") {
		t.Errorf("stderr progress: %q", stderr)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestSelectJSON(t *testing.T) {
	dir := t.TempDir()
	sp := writeScores(t, dir)
	out := filepath.Join(dir, "b.arrow")
	code, stdout, stderr := runBin(t, "--scores", sp, "--out", out, "--json", "--no-heatmap", "--policy", "per-matrix", "--budget", "15", "--score", "reference")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s blocks.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout)
	}
	if s.Selected != 15 || s.Policy != "per-matrix" || s.Score != "reference" || len(s.Pools) != 1 || s.Pools[0].PerMatrix != 1 || s.Heatmap != "" {
		t.Fatalf("summary %+v", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.png")); !os.IsNotExist(err) {
		t.Error("--no-heatmap wrote a heat map")
	}
	// Progress on stderr is JSON too.
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("stderr line is not JSON: %q", line)
		}
	}
}

func TestSelectExitCodes(t *testing.T) {
	dir := t.TempDir()
	sp := writeScores(t, dir)
	out := filepath.Join(dir, "x.arrow")
	mismatch := filepath.Join(dir, "model6")
	os.MkdirAll(mismatch, 0o755)
	cfg, _ := os.ReadFile(filepath.Join(storiesDir, "config.json"))
	os.WriteFile(filepath.Join(mismatch, "config.json"), bytes.Replace(cfg, []byte(`"num_hidden_layers": 5`), []byte(`"num_hidden_layers": 6`), 1), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"--help"}, 0, ""},
		{"no scores flag", []string{"--out", out}, 2, `"scores" not set`},
		{"unknown flag", []string{"--scores", sp, "--bogus"}, 2, "bogus"},
		{"ambiguous budget", []string{"--scores", sp, "--out", out, "--budget", "1.5"}, 2, "ambiguous"},
		{"bad mlp budget", []string{"--scores", sp, "--out", out, "--policy", "attn+mlp", "--mlp-budget", "x"}, 2, "--mlp-budget"},
		{"unknown score", []string{"--scores", sp, "--out", out, "--score", "mean"}, 2, `unknown score "mean"`},
		{"unknown policy", []string{"--scores", sp, "--out", out, "--policy", "best"}, 2, `unknown policy "best"`},
		{"mlp budget on attn", []string{"--scores", sp, "--out", out, "--mlp-budget", "3"}, 2, "takes no MLP budget"},
		{"argument", []string{"--scores", sp, "--out", out, "extra"}, 2, "unexpected arguments"},
		{"same paths", []string{"--scores", sp, "--out", sp}, 2, "must differ"},
		{"missing scores", []string{"--scores", filepath.Join(dir, "none.arrow"), "--out", out}, 1, "none.arrow"},
		{"model mismatch", []string{"--scores", sp, "--out", out, "--model", mismatch}, 1, "num_hidden_layers 6"},
		{"empty pool", []string{"--scores", sp, "--out", out, "--policy", "attn+mlp", "--mlp-budget", "3"}, 1, "pool mlp (gate, up, down) has no scored blocks"},
		{"over the pool", []string{"--scores", sp, "--out", out, "--budget", "41"}, 1, "more than the 40 in the pool"},
	}
	for _, c := range cases {
		code, stdout, stderr := runBin(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.name, code, stderr, c.code, c.want)
		}
		if c.name == "help" && !strings.Contains(stdout, "Examples:") {
			t.Errorf("--help lacks examples:\n%s", stdout)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed run left an output file")
	}
}
