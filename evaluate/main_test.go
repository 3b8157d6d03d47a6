package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/eval"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildEvaluate compiles the evaluate binary (once per test run) into a
// temporary directory.
func buildEvaluate(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "evaluate-test-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "evaluate")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func model(t *testing.T) string { return filepath.Join(testutil.RepoRoot(t), "models", "stories260K") }

func testdata(t *testing.T, name string) string {
	return filepath.Join(testutil.RepoRoot(t), "pkg", "evaluate", "testdata", name)
}

// runBin runs the binary and returns its stdout, stderr and exit code.
func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	return testutil.RunCmd(t, exec.Command(bin, args...))
}

// The greedy story from BOS and the sampled one (run.c's sampler, seed
// 133742) are llama2.c's, byte for byte.
func TestGenerateMatchesLlama2c(t *testing.T) {
	bin := buildEvaluate(t)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"expected_greedy_t0.txt", nil},
		{"expected_t1.0_p0.9_seed133742.txt", []string{"--temperature", "1", "--top-p", "0.9", "--seed", "133742"}},
	} {
		want, err := os.ReadFile(testdata(t, c.golden))
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{"generate", "--model", model(t), "--prompt", "", "--max-new-tokens", "256", "-q"}, c.args...)
		out, stderr, code := runBin(t, bin, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.golden, code, stderr)
		}
		if out != string(want) {
			t.Errorf("%s: output differs\n got: %q\nwant: %q", c.golden, out, want)
		}
	}
}

// baseArgs are the flags of every evaluation in these tests.
func baseArgs(t *testing.T, out string, extra ...string) []string {
	return append([]string{"--model", model(t), "--data", testdata(t, "dataset"), "--out", out, "--threads", "2"}, extra...)
}

// evalArgs evaluate the first 5 examples of three tasks, quietly.
func evalArgs(t *testing.T, out string, extra ...string) []string {
	return baseArgs(t, out, append([]string{"--tasks", "boolq,ARC-Easy,gsm8k", "--limit", "5", "-q"}, extra...)...)
}

func readReport(t *testing.T, dir string) *eval.Report {
	t.Helper()
	r, err := eval.ReadReport(filepath.Join(dir, eval.ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readPredictions(t *testing.T, dir string) map[eval.Key]eval.Prediction {
	t.Helper()
	c, err := eval.Resume(filepath.Join(dir, "predictions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[eval.Key]eval.Prediction{}
	for _, p := range c.Predictions() {
		m[p.Key()] = p
	}
	return m
}

// sameResults checks that two runs scored and generated the same.
func sameResults(t *testing.T, what, got, want string) {
	t.Helper()
	a, b := readReport(t, got), readReport(t, want)
	if !reflect.DeepEqual(a.Tasks, b.Tasks) || a.Average != b.Average || !reflect.DeepEqual(a.Groups, b.Groups) || a.Generation != b.Generation {
		t.Errorf("%s: report differs:\n got %+v\nwant %+v", what, a, b)
	}
	pa, pb := readPredictions(t, got), readPredictions(t, want)
	if !reflect.DeepEqual(pa, pb) {
		t.Errorf("%s: predictions differ (%d vs %d)", what, len(pa), len(pb))
	}
	ma, _ := os.ReadFile(filepath.Join(got, eval.ReportMarkdown))
	mb, _ := os.ReadFile(filepath.Join(want, eval.ReportMarkdown))
	strip := func(b []byte) string { // the times and run directory differ
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "- started") && !strings.HasPrefix(l, "- finished") && !strings.HasPrefix(l, "- predictions") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(ma) != strip(mb) {
		t.Errorf("%s: report.md differs:\n%s\nwant\n%s", what, ma, mb)
	}
}

// lines returns the complete lines of a file.
func lines(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(data) > 0 && data[len(data)-1] != '\n' && len(out) > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// An evaluation writes its files; after losing predictions (the file cut
// to fewer lines, with a torn last line) a rerun generates only what is
// missing and ends with the same report and predictions.
func TestEvaluateAndResumeAfterTruncation(t *testing.T) {
	bin := buildEvaluate(t)
	work := t.TempDir()
	ref := filepath.Join(work, "ref")
	out, stderr, code := runBin(t, bin, evalArgs(t, ref)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"report.md", "report.json", "predictions.jsonl", "settings.json"} {
		if _, err := os.Stat(filepath.Join(ref, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(out, "average") || !strings.Contains(out, "15 generated now") {
		t.Errorf("summary:\n%s", out)
	}
	r := readReport(t, ref)
	if len(r.Tasks) != 3 || r.Tasks[0].Task != "boolq" || r.Tasks[1].Task != "ARC-Easy" || r.Tasks[2].Task != "gsm8k" {
		t.Fatalf("tasks %+v", r.Tasks)
	}
	for _, tr := range r.Tasks {
		if tr.N != 5 {
			t.Errorf("%s: %d examples, want 5", tr.Task, tr.N)
		}
	}
	preds := lines(t, filepath.Join(ref, "predictions.jsonl"))
	if len(preds) != 15 {
		t.Fatalf("%d predictions, want 15", len(preds))
	}
	md, _ := os.ReadFile(filepath.Join(ref, "report.md"))
	for _, want := range []string{"| BoolQ | ARC-e | Avg |", "| GSM8K | Avg |", "Average over all 3 tasks"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}

	cut := filepath.Join(work, "cut")
	if err := os.MkdirAll(cut, 0o755); err != nil {
		t.Fatal(err)
	}
	settings, _ := os.ReadFile(filepath.Join(ref, "settings.json"))
	os.WriteFile(filepath.Join(cut, "settings.json"), settings, 0o644)
	torn := strings.Join(preds[:6], "\n") + "\n" + preds[6][:len(preds[6])/2]
	os.WriteFile(filepath.Join(cut, "predictions.jsonl"), []byte(torn), 0o644)
	out, stderr, code = runBin(t, bin, evalArgs(t, cut)...)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "9 generated now, 6 resumed") {
		t.Errorf("resume summary:\n%s", out)
	}
	sameResults(t, "resumed after truncation", cut, ref)

	// A rerun of a finished directory generates nothing.
	out, _, code = runBin(t, bin, evalArgs(t, cut)...)
	if code != 0 || !strings.Contains(out, "0 generated now, 15 resumed") {
		t.Errorf("rerun: exit %d:\n%s", code, out)
	}
	// Other decoding settings are refused (usage error), the directory untouched.
	_, stderr, code = runBin(t, bin, evalArgs(t, cut, "--max-new-tokens", "8")...)
	if code != 2 || !strings.Contains(stderr, "max new tokens: was 32, now 8") {
		t.Errorf("changed settings: exit %d: %s", code, stderr)
	}
	sameResults(t, "after a refused rerun", cut, ref)
}

// Killed (SIGKILL) or interrupted (SIGINT, which finishes the batch and
// writes a partial report) part way, a rerun finishes with the results of
// an uninterrupted run.
func TestEvaluateResumeAfterSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary several times")
	}
	bin := buildEvaluate(t)
	work := t.TempDir()
	ref := filepath.Join(work, "ref")
	if _, stderr, code := runBin(t, bin, evalArgs(t, ref, "--batch", "1")...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		dir := filepath.Join(work, sig.String())
		cmd := exec.Command(bin, evalArgs(t, dir, "--batch", "1")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		pred := filepath.Join(dir, "predictions.jsonl")
		interrupted := false
	poll:
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
			select {
			case <-exited:
				break poll
			case <-time.After(2 * time.Millisecond):
			}
			if len(lines(t, pred)) >= 2 {
				cmd.Process.Signal(sig)
				err := <-exited
				interrupted = true
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("%v: the binary exited with %v after the signal", sig, err)
				}
				if sig == syscall.SIGINT {
					if ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "interrupted") {
						t.Errorf("SIGINT: exit %d: %s", ee.ExitCode(), stderr.String())
					}
					if r := readReport(t, dir); func() int {
						n := 0
						for _, tr := range r.Tasks {
							n += tr.N
						}
						return n
					}() >= 15 {
						t.Errorf("SIGINT: the partial report counts every example")
					}
				}
				break poll
			}
		}
		n := len(lines(t, pred))
		if !interrupted || n >= 15 {
			t.Logf("%v: the run finished before the signal landed (%d predictions)", sig, n)
		}
		out, errOut, code := runBin(t, bin, evalArgs(t, dir, "--batch", "1")...)
		if code != 0 {
			t.Fatalf("%v: resume: exit %d: %s", sig, code, errOut)
		}
		t.Logf("%v after %d predictions; resume: %s", sig, n, strings.Split(out, "\n")[4])
		sameResults(t, "resumed after "+sig.String(), dir, ref)
	}
}

// Exit codes: 0 ok, 1 for a failure such as a missing model, 2 for usage
// errors.
func TestExitCodes(t *testing.T) {
	bin := buildEvaluate(t)
	work := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing model dir", []string{"--model", filepath.Join(work, "nope"), "--data", testdata(t, "dataset"), "--tasks", "boolq", "--out", filepath.Join(work, "a")}, 1, "nope"},
		{"unknown task", baseArgs(t, filepath.Join(work, "b"), "--tasks", "boolq,nosuch"), 2, `unknown task "nosuch"`},
		{"missing --out", []string{"--model", model(t), "--data", testdata(t, "dataset")}, 2, "--out is required"},
		{"unknown template", evalArgs(t, filepath.Join(work, "c"), "--template", "nosuch"), 2, "template"},
		{"bad beams", evalArgs(t, filepath.Join(work, "d"), "--beams", "0"), 2, "beams"},
		{"unknown flag", []string{"--nosuch"}, 2, "nosuch"},
		{"missing test set", baseArgs(t, filepath.Join(work, "e"), "--tasks", "piqa"), 1, "piqa"},
		{"generate: missing model", []string{"generate", "--model", filepath.Join(work, "nope"), "--prompt", "x"}, 1, "nope"},
		{"generate: bad top-p", []string{"generate", "--model", model(t), "--temperature", "1", "--top-p", "2"}, 2, "top-p"},
		{"generate: ok", []string{"generate", "--model", model(t), "--prompt", "Once upon a time", "--max-new-tokens", "5", "--beams", "2"}, 0, ""},
	} {
		_, stderr, code := runBin(t, bin, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%s: exit %d, want %d; stderr: %s", c.name, code, c.code, stderr)
		}
	}
}

// --json writes progress as JSON objects on stderr and the report on
// stdout.
func TestJSONOutput(t *testing.T) {
	bin := buildEvaluate(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := runBin(t, bin, baseArgs(t, out, "--json", "--tasks", "boolq", "--limit", "3")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep eval.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Tasks) != 1 || rep.Tasks[0].N != 3 {
		t.Errorf("stdout is not the report: %v\n%s", err, stdout)
	}
	progress := 0
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Errorf("stderr line is not JSON: %q", l)
			continue
		}
		if ev["event"] == "progress" {
			progress++
			for _, k := range []string{"task", "task_done", "task_total", "done", "total", "examples_per_s", "eta_s"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("progress event lacks %q: %s", k, l)
				}
			}
		}
	}
	if progress == 0 {
		t.Error("no progress events")
	}
}
