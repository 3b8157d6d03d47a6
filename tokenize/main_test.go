package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/shards"
)

// bin is the tokenize binary built for the tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokenize-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "tokenize")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs the binary and returns stdout, stderr and the exit code.
func runBin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return testutil.RunCmd(t, cmd)
}

func stories(t *testing.T) string {
	return filepath.Join(testutil.RepoRoot(t), "models", "stories260K")
}

// TestTokenizeBinary runs the stage on the real ARC-Easy train set with
// the stories260K model and checks the summary and the shards.
func TestTokenizeBinary(t *testing.T) {
	data := testutil.Shared(t, "llm-adapters/dataset/ARC-Easy/train.json")
	out := filepath.Join(t.TempDir(), "shards")
	stdout, stderr, code := runBin(t, "", "--model", stories(t), "--data", data, "--out", out, "--eval-split", "0.2", "--max-len", "128", "--seed", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"output:      " + out, "records:     2251 read, ", " truncated, 0 dropped, 0 skipped", "train:", "eval:", "tokens/s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	m, err := shards.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Tokenizer.Path != stories(t) || m.Tokenizer.VocabSize != 512 || m.MaxLen != 128 || m.Seed != 5 || m.EvalSplit != "0.2" || m.Counts.Truncated == 0 {
		t.Errorf("manifest %+v", m)
	}
	s, err := shards.OpenSplit(out, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ex := s.Get(0); ex.IDs[0] != 1 || len(ex.IDs) > 128 {
		t.Errorf("first example %v", ex.IDs)
	}

	// --json: the summary is one JSON object on stdout.
	stdout, stderr, code = runBin(t, "", "--tokenizer", testutil.Shared(t, "llama2-tokenizer/tokenizer.model"), "--data", data, "--out", out, "--json", "--template", "alpaca", "--train-on-inputs")
	var sum struct {
		Out      string           `json:"out"`
		Tokens   int64            `json:"tokens"`
		Kept     int64            `json:"kept"`
		Manifest *shards.Manifest `json:"manifest"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &sum) != nil || sum.Kept != 2251 || sum.Tokens == 0 || sum.Manifest.Template != "alpaca" || !sum.Manifest.TrainOnInputs {
		t.Errorf("--json: exit %d, stdout %.300s, stderr %.300s", code, stdout, stderr)
	}
}

// TestBadData: a malformed record is exit code 1 with an error naming the
// file and record, and no output; --skip-bad skips it.
func TestBadData(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "bad.jsonl")
	var b strings.Builder
	for i := range 300 {
		if i == 200 {
			b.WriteString(`{"instruction": "x", "output": 7}` + "\n")
			continue
		}
		b.WriteString(`{"instruction": "Say hi.", "input": "", "output": "hi", "answer": "hi"}` + "\n")
	}
	os.WriteFile(data, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "out")
	_, stderr, code := runBin(t, "", "--model", stories(t), "--data", data, "--out", out)
	if code != 1 || !strings.Contains(stderr, data+": record 200 (line 201)") || !strings.Contains(stderr, `"output" is a number`) {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("output written for bad data")
	}
	stdout, stderr, code := runBin(t, "", "--model", stories(t), "--data", data, "--out", out, "--skip-bad")
	if code != 0 || !strings.Contains(stdout, "records:     300 read, 299 kept, 0 truncated, 0 dropped, 1 skipped") || !strings.Contains(stderr, "record 200") {
		t.Errorf("--skip-bad: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// --json progress: one JSON object per stderr line.
	_, stderr, code = runBin(t, "", "--model", stories(t), "--data", data, "--out", out, "--skip-bad", "--json")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var ev map[string]any
	if code != 0 || len(lines) == 0 || json.Unmarshal([]byte(lines[0]), &ev) != nil || ev["event"] != "skip" || ev["stage"] != "tokenize" ||
		!strings.Contains(ev["error"].(string), "record 200") {
		t.Errorf("--json: exit %d, stderr %s", code, stderr)
	}
	// A missing input file is a failure too.
	if _, _, code := runBin(t, "", "--model", stories(t), "--data", filepath.Join(dir, "nope.json"), "--out", out); code != 1 {
		t.Errorf("missing input: exit %d", code)
	}
}

// TestUsage: command-line mistakes are exit code 2; --help is 0.
func TestUsage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(data, []byte(`{"instruction": "a", "output": "b"}`+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "o")
	m := stories(t)
	for _, args := range [][]string{
		{"--data", data, "--out", out},
		{"--model", m, "--out", out},
		{"--model", m, "--data", data},
		{"--model", m, "--tokenizer", m, "--data", data, "--out", out},
		{"--model", m, "--data", data, "--out", out, "--overflow", "wrap"},
		{"--model", m, "--data", data, "--out", out, "--eval-split", "1.5"},
		{"--model", m, "--data", data, "--out", out, "--template", "chatml"},
		{"--model", m, "--data", data, "--out", out, "--bos", "maybe"},
		{"--model", m, "--data", data, "--out", out, "--max-len", "-1"},
		{"--model", m, "--data", data, "--out", out, "--no-such-flag"},
		{"--model", m, "--data", data, "--out", out, "extra-arg"},
		{"ids"},
		{"ids", "--tokenizer", m, "--no-such-flag"},
	} {
		if _, stderr, code := runBin(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	stdout, _, code := runBin(t, "", "--help")
	if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "--eval-split") || !strings.Contains(stdout, "ids") {
		t.Errorf("--help: exit %d\n%s", code, stdout)
	}
}

// TestIDs: the ids subcommand prints the LLaMA-2 tokenizer's known
// SentencePiece ids.
func TestIDs(t *testing.T) {
	tok := testutil.Shared(t, "llama2-tokenizer/tokenizer.model")
	in := "\"Once upon a time\"\n\"Hello world\"\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "9038 2501 263 931\n15043 3186\n"},
		{[]string{"--bos"}, "1 9038 2501 263 931\n1 15043 3186\n"},
		{[]string{"--bos", "--eos"}, "1 9038 2501 263 931 2\n1 15043 3186 2\n"},
	} {
		stdout, stderr, code := runBin(t, in, append([]string{"ids", "--tokenizer", tok}, c.args...)...)
		if code != 0 || stdout != c.want {
			t.Errorf("ids %v: exit %d, got %q want %q (%s)", c.args, code, stdout, c.want, stderr)
		}
	}
	stdout, _, code := runBin(t, "\"<s> Below\"\n", "ids", "--tokenizer", tok, "--parse-special")
	if code != 0 || stdout != "1 29871 13866\n" {
		t.Errorf("--parse-special: exit %d, %q", code, stdout)
	}
	// The model directory of stories260K, and a bad line.
	stdout, _, code = runBin(t, "\"Hello\"\n", "ids", "--model", stories(t), "--bos")
	if code != 0 || stdout != "1 346 306 414\n" {
		t.Errorf("stories260K: exit %d, %q", code, stdout)
	}
	if _, stderr, code := runBin(t, "\"ok\"\nnot json\n", "ids", "--tokenizer", tok); code != 1 || !strings.Contains(stderr, "line 2") {
		t.Errorf("bad line: exit %d, %s", code, stderr)
	}
}

// TestInterrupt: SIGINT while the input is still arriving stops the stage
// with exit code 1 and leaves no output directory.
func TestInterrupt(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "--model", stories(t), "--data", fifo, "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for range 1000 {
		w.WriteString(`{"instruction": "Say hi.", "output": "hi"}` + "\n")
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no exit after SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %s", code, stderr.String())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 { // only the pipe
		t.Errorf("left behind: %v", entries)
	}
}
