package main

import (
	"bytes"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smt-go/smt/internal/testshards"
	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/blocks"
	"github.com/smt-go/smt/pkg/delta"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/train"
)

// buildTrain compiles the train binary into a temporary directory.
func buildTrain(t *testing.T) string { return testutil.BuildBinary(t, "train") }

// writeBlocks writes a block index for stories260K: some 16×16 blocks of
// V, K and Q.
func writeBlocks(t *testing.T, path string) {
	t.Helper()
	cfg, err := llama.ReadConfig(testutil.RepoRoot(t) + "/models/stories260K")
	if err != nil {
		t.Fatal(err)
	}
	lay := llama.NewLayout(cfg)
	var entries []blocks.Entry
	rank := 0
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		for _, k := range []llama.Kind{llama.Q, llama.V} {
			tn := lay.Get(k, l)
			for _, rc := range [][2]int{{0, 1}, {1, 3}} {
				entries = append(entries, blocks.Entry{Tensor: tn.Name, Layer: l, Kind: k.String(), Row: rc[0], Col: rc[1], Score: float32(100 - rank), Rank: rank, Pool: "attn"})
				rank++
			}
		}
	}
	blocks.SortFile(entries)
	meta := blocks.Meta{BlockSize: 16, Policy: "attn", Score: "mean_abs", Budget: "20", Kinds: []string{"q", "k", "v"},
		Counts: map[string]int{"attn": len(entries)}, Shapes: map[string][2]int{"q": {64, 64}, "k": {32, 64}, "v": {32, 64}},
		Layers: cfg.NumHiddenLayers, ModelParams2D: 2 * 512 * 64}
	if err := blocks.Write(path, meta, entries); err != nil {
		t.Fatal(err)
	}
}

// TestKillAndResumeIsBitIdentical kills train with SIGKILL at several
// points, resumes it each time, and checks that the final delta is
// byte-identical to an uninterrupted run's, and that no kill leaves a file
// a later stage would take for a finished one.
func TestKillAndResumeIsBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary several times")
	}
	bin := buildTrain(t)
	data := testshards.Build(t, "llm-adapters/dataset/ARC-Easy/train.json", 96, 16, 320)
	work := t.TempDir()
	bl := filepath.Join(work, "blocks.arrow")
	writeBlocks(t, bl)
	model := testutil.RepoRoot(t) + "/models/stories260K"
	args := func(out string, extra ...string) []string {
		return append([]string{"--model", model, "--data", data, "--blocks", bl, "--out", out, "--steps", "36", "--batch", "4",
			"--grad-accum", "2", "--lr", "2e-3", "--eval-every", "6", "--checkpoint-every", "3", "--threads", "2", "--quiet"}, extra...)
	}
	ref := filepath.Join(work, "ref")
	if out, err := exec.Command(bin, args(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(ref, "delta.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	run := filepath.Join(work, "run")
	ckdir := filepath.Join(run, "checkpoints")
	// Kill points: once checkpoint N exists (so the kill lands at various
	// places after it), then once more after a fixed delay.
	kills := []int{3, 9, 15, 24}
	for i, after := range kills {
		extra := []string{}
		if i > 0 {
			extra = append(extra, "--resume")
		}
		cmd := exec.Command(bin, args(run, extra...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(ckdir, train.CheckpointName(after))
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if _, err := os.Stat(target); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("checkpoint %s never appeared\n%s", target, stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(i*17) * time.Millisecond) // land at different points of a step
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err == nil {
			t.Fatalf("kill %d: the run had already finished", i)
		}
		// Nothing a later stage reads may be left half-written.
		if _, err := os.Stat(filepath.Join(run, "delta.safetensors")); err == nil {
			t.Fatalf("kill %d left a delta.safetensors", i)
		}
		ents, _ := os.ReadDir(ckdir)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "checkpoint-") && !strings.HasPrefix(e.Name(), ".") {
				t.Fatalf("unexpected file %s", e.Name())
			}
		}
		// Without --resume, a directory with checkpoints is refused.
		if i == 0 {
			out, err := exec.Command(bin, args(run)...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "--resume") {
				t.Fatalf("a rerun without --resume was not refused: %v\n%s", err, out)
			}
		}
	}
	if out, err := exec.Command(bin, args(run, "--resume")...).CombinedOutput(); err != nil {
		t.Fatalf("final resume: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(run, "delta.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("resumed delta (%d bytes) differs from the uninterrupted run's (%d bytes)", len(got), len(want))
	}
}

func TestUsageErrors(t *testing.T) {
	bin := buildTrain(t)
	cmd := exec.Command(bin, "--model", "x")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("missing flags: %v, want exit code 2", err)
	}
	cmd = exec.Command(bin, "--model", "/nonexistent", "--data", "/nonexistent", "--blocks", "/nonexistent", "--out", t.TempDir())
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("missing model: %v, want exit code 1", err)
	}
}

// Two train processes launched like torchrun (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT; TCP communicator on the CPU) with batch 2 each
// give the delta of one process with batch 4.
func TestTwoRanksEqualDoubleBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary three times")
	}
	bin := buildTrain(t)
	data := testshards.Build(t, "llm-adapters/dataset/ARC-Easy/train.json", 32, 8, 320)
	work := t.TempDir()
	bl := filepath.Join(work, "blocks.arrow")
	writeBlocks(t, bl)
	model := testutil.RepoRoot(t) + "/models/stories260K"
	args := func(out, batch string) []string {
		return []string{"--model", model, "--data", data, "--blocks", bl, "--out", out, "--steps", "6", "--batch", batch,
			"--lr", "2e-3", "--eval-every", "3", "--keep", "last", "--checkpoint-every", "0", "--threads", "1", "--quiet", "--device", "cpu"}
	}
	one := filepath.Join(work, "one")
	if out, err := exec.Command(bin, args(one, "4")...).CombinedOutput(); err != nil {
		t.Fatalf("single process: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	two := filepath.Join(work, "two")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for r := 0; r < 2; r++ {
		cmd := exec.Command(bin, args(two, "2")...)
		cmd.Env = append(os.Environ(), "RANK="+strconv.Itoa(r), "LOCAL_RANK="+strconv.Itoa(r), "WORLD_SIZE=2",
			"MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port), "SMT_COMM_PORT="+strconv.Itoa(port))
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &b)
	}
	for r, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("rank %d: %v\n%s", r, err, outs[r])
		}
	}
	_, want, err := delta.Read(filepath.Join(one, "delta.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := delta.Read(filepath.Join(two, "delta.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d matrices, want %d", len(got), len(want))
	}
	for i := range want {
		for j := range want[i].Values {
			if d := math.Abs(float64(got[i].Values[j] - want[i].Values[j])); d > 1e-5 {
				t.Fatalf("%s value %d: 2 ranks %g, 1 rank %g", want[i].Name, j, got[i].Values[j], want[i].Values[j])
			}
		}
	}
}
