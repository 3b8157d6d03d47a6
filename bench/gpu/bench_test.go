package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/backend/cuda"
	cu "github.com/smt-go/smt/pkg/cuda"
	"github.com/smt-go/smt/pkg/cuda/cudatest"
)

// captureStderr redirects the package's stderr for the test.
func captureStderr(t *testing.T) *bytes.Buffer {
	var b bytes.Buffer
	old := stderr
	stderr = &b
	t.Cleanup(func() { stderr = old })
	return &b
}

// TestNoGPU: where no library or no device is found, the program says so
// in one line and exits 1, quickly.
func TestNoGPU(t *testing.T) {
	errb := captureStderr(t)
	var out bytes.Buffer
	empty := t.TempDir()
	code := benchMain([]string{"-shape", "tiny"}, cuda.Options{Load: loadOnly(empty)}, &out)
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "no usable CUDA GPU (no libcuda.so.1") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	// With -json, one error row per mode for the report.
	code = benchMain([]string{"-shape", "tiny", "-mode", "smt,full", "-json"}, cuda.Options{Load: loadOnly(empty)}, &out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if code != 1 || len(lines) != 2 || !strings.Contains(lines[1], `"mode":"full"`) || !strings.Contains(lines[0], `"error":"no usable CUDA GPU`) {
		t.Errorf("-json: exit %d, stdout %q", code, out.String())
	}
	out.Reset()

	// A driver that sees no device (the stand-in set to 0 devices).
	s := cudatest.Open(t)
	s.Setup(t, 0, 12040)
	t.Cleanup(func() { s.Setup(t, 1, 12040) })
	errb.Reset()
	code = benchMain([]string{"-shape", "tiny"}, cuda.Options{Load: s.Options()}, &out)
	if code != 1 || !strings.Contains(errb.String(), "no usable CUDA GPU") || !strings.Contains(errb.String(), "needs one") {
		t.Errorf("no device: exit %d, stderr %q", code, errb.String())
	}
}

func loadOnly(dir string) cu.LoadOptions { return cu.LoadOptions{Dirs: []string{dir}, OnlyDirs: true} }

// TestUsage: bad flags are usage errors (status 2).
func TestUsage(t *testing.T) {
	captureStderr(t)
	for _, args := range [][]string{{"-shape", "gpt9"}, {"-mode", "lora"}, {"-steps", "0"}, {"-heads", "5"}, {"extra"}} {
		if code := benchMain(args, cuda.Options{}, &bytes.Buffer{}); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestStandIn runs the whole benchmark on the stand-in libraries (the real
// kernels, compiled for the CPU, and a reference cuBLAS) with the tiny
// shape: SMT and full, JSON out, then the report.
func TestStandIn(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	s := cudatest.Open(t)
	errb := captureStderr(t)
	var out bytes.Buffer
	code := benchMain([]string{"-shape", "tiny", "-mode", "smt,full", "-block", "16", "-nblocks", "6", "-steps", "2", "-json"},
		cuda.Options{Load: s.Options()}, &out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	var rs []Result
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		rs = append(rs, r)
	}
	if len(rs) != 2 || rs[0].Mode != "smt" || rs[1].Mode != "full" {
		t.Fatalf("results %+v", rs)
	}
	for _, r := range rs {
		if r.Error != "" || r.StepMS <= 0 || r.TokensPerS <= 0 || len(r.StepsMS) != 2 || r.PeakMem <= 0 || r.DeviceTotal <= 0 ||
			r.Flops.Total <= 0 || len(r.PhaseMS) != 4 || !strings.Contains(r.Device, "Stand-in") {
			t.Errorf("%s: %+v", r.Mode, r)
		}
		// Random weights of std 0.02 give logits near zero: the first
		// loss is about ln(vocab).
		if l := r.Losses[0]; math.Abs(l-math.Log(96)) > 0.1 {
			t.Errorf("%s: first loss %v, want about ln 96 = %.3f", r.Mode, l, math.Log(96))
		}
		t.Logf("%s: %.1f ms/step, peak %d bytes, parts %v, phases %v", r.Mode, r.StepMS, r.PeakMem, r.MemParts, r.PhaseMS)
	}
	smt, full := rs[0], rs[1]
	if smt.Blocks != 6 || smt.BlocksQKV[0]+smt.BlocksQKV[1]+smt.BlocksQKV[2] != 6 || smt.Trained != 6*16*16 {
		t.Errorf("smt blocks %d %v, trained %d", smt.Blocks, smt.BlocksQKV, smt.Trained)
	}
	if full.Trained != 98304+5*64 {
		t.Errorf("full trains %d values, want every parameter (98624)", full.Trained)
	}
	if smt.PeakMem >= full.PeakMem {
		t.Errorf("smt peak %d ≥ full peak %d", smt.PeakMem, full.PeakMem)
	}
	// -plan predicts the buffers: the peak is the plan plus the cuBLAS
	// workspace and a small scratch arena.
	for _, r := range rs {
		o := RunOptions{Mode: r.Mode, BlockSize: 16, NBlocks: 6, Select: "random", Seed: 1}
		p, err := planMode(presets["tiny"], o)
		if err != nil {
			t.Fatal(err)
		}
		extra := r.PeakMem - 32<<20 - p.Total
		if p.Parts["acts"] != r.MemParts["acts"] || p.Parts["grad_scratch"] != r.MemParts["grad_scratch"] || extra < 0 || extra > 4<<20 {
			t.Errorf("%s: plan %+v, measured peak %d (%d over the plan and workspace), parts %v", r.Mode, p, r.PeakMem, extra, r.MemParts)
		}
	}
	want := StepFlops(presets["tiny"], "smt", FlopParams{Blocks: 6, BlockSize: 16, Lowest: smt.Lowest})
	if smt.Flops != want {
		t.Errorf("smt flops %+v, want %+v", smt.Flops, want)
	}

	// Two micro-batches of one sequence: the same tokens per step, half
	// the activations.
	var acc bytes.Buffer
	if code := benchMain([]string{"-shape", "tiny", "-mode", "smt", "-block", "16", "-nblocks", "6", "-steps", "1", "-accum", "2", "-json"},
		cuda.Options{Load: s.Options()}, &acc); code != 0 {
		t.Fatalf("-accum 2: exit %d\n%s", code, errb.String())
	}
	var ra Result
	if err := json.Unmarshal(acc.Bytes(), &ra); err != nil {
		t.Fatal(err)
	}
	if ra.Accum != 2 || ra.Tokens != smt.Tokens || ra.MemParts["acts"] >= smt.MemParts["acts"] || math.Abs(ra.Losses[0]-smt.Losses[0]) > 1e-3 {
		t.Errorf("-accum 2: %+v (one batch: acts %d, first loss %v)", ra, smt.MemParts["acts"], smt.Losses[0])
	}
	out.Write(acc.Bytes())

	// The report reads the same lines.
	path := filepath.Join(t.TempDir(), "go.jsonl")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if code := reportMain([]string{"-card", "Stand-in", "-driver", "0", path}, &md); code != 0 {
		t.Fatalf("report exit %d", code)
	}
	for _, w := range []string{"| tiny | smt | ours (Go, CUDA backend) |", "| tiny | full |", "peak memory ours SMT ÷ ours full fine-tuning", "card Stand-in",
		"2 micro-batches of 1"} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, md.String())
		}
	}
}

// TestReport renders made-up rows of every kind, with the ratios.
func TestReport(t *testing.T) {
	sh7, sh1 := presets["llama2-7b"], presets["tinyllama-1.1b"]
	rows := []Row{
		{Impl: "smt-go", Mode: "smt", Shape: sh7, Trained: 56557568, StepMS: 500, TokensPerS: 16384, TFLOPs: 440, PeakTFLOPs: 989.4, MFU: 0.445, PeakMem: 40 << 30, DeviceUsed: 41 << 30, Device: "cuda:0 (NVIDIA H100 80GB HBM3, 79 GiB)", PhaseMS: map[string]float64{"forward": 150, "loss": 5, "backward": 330, "optimizer": 1}},
		{Impl: "peft-lora", Mode: "lora", Shape: sh7, Trained: 56098816, StepMS: 1000, TokensPerS: 8192, TFLOPs: 220, MFU: 0.22, PeakMem: 60 << 30, Versions: map[string]string{"torch": "2.11.0", "peft": "0.18"}, Notes: "LoRA r=32"},
		{Impl: "smt-go", Mode: "smt", Shape: sh1, StepMS: 100, TokensPerS: 81920, PeakMem: 10 << 30},
		{Impl: "smt-go", Mode: "full", Shape: sh1, StepMS: 150, TokensPerS: 54613, PeakMem: 32 << 30},
		{Impl: "torch-full", Mode: "full", Shape: sh1, StepMS: 200, TokensPerS: 40960, PeakMem: 36 << 30, MatmulTFLOPs: 780, PeakTFLOPs: 989.4},
		{Impl: "peft-lora", Mode: "lora", Shape: sh1, Skipped: "peft not installed"},
		{Impl: "smt-go", Mode: "smt", Shape: sh1, StepMS: 110, TokensPerS: 74473, PeakMem: 6 << 30, Accum: 2},
		{Impl: "smt-go", Mode: "full", Shape: sh1, StepMS: 160, TokensPerS: 51200, PeakMem: 24 << 30, Accum: 2},
	}
	var b bytes.Buffer
	writeTable(&b, rows, reportMeta{Card: "NVIDIA H100 80GB HBM3", Driver: "580.159.03", Date: "2026-11-30"})
	got := b.String()
	for _, w := range []string{
		"| llama2-7b | smt | ours (Go, CUDA backend) | 56.6M | 500 | 16384 | 440.0 | 44.5% | 40.00 GiB | 41.00 GiB | phases ms: fwd 150, loss 5, bwd 330, opt 1 |",
		"| tinyllama-1.1b | lora | PyTorch + PEFT LoRA r32 | | | | | | | | skipped: peft not installed |",
		"llama2-7b, ours SMT MFU: **44.5%** (target ≥ 50%: misses the target)",
		"llama2-7b, tokens/s ours SMT ÷ PyTorch + PEFT LoRA r32: **2.00×** (target ≥ 2×: meets the target)",
		"tinyllama-1.1b, peak memory ours SMT ÷ ours full fine-tuning: **31.2%** (target ≤ 33%: meets the target)",
		"tinyllama-1.1b, peak memory ours SMT ÷ PyTorch full fine-tuning: 27.8%",
		"full fine-tuning tokens/s ours ÷ PyTorch: 1.33×",
		"| tinyllama-1.1b | smt | ours (Go, CUDA backend) | 0 | 110 | 74473 | 0.0 | – | 6.00 GiB | – | 2 micro-batches of 8 |",
		"tinyllama-1.1b in 2 micro-batches, peak memory ours SMT ÷ ours full fine-tuning: **25.0%** (target ≤ 33%: meets the target)",
		"a bf16 8192³ matrix product through PyTorch ran at 780 TFLOP/s here (79% of it)",
		"card NVIDIA H100 80GB HBM3; driver 580.159.03; backend cuda:0 (NVIDIA H100 80GB HBM3, 79 GiB); 2026-11-30",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	if t.Failed() {
		t.Log("\n" + got)
	}
}

// TestPeersOnCPU runs the PyTorch peers on the CPU with the tiny shape
// (Debian's python3-torch; transformers and peft replaced by the stand-ins
// in testdata/pystubs), and without the stand-ins (they must say what is
// missing), then reads their lines with the report.
func TestPeersOnCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if exec.Command(py, "-c", "import torch").Run() != nil {
		t.Skip("no torch for /usr/bin/python3")
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	peers := filepath.Join(dir, "..", "peers")
	stubs := filepath.Join(dir, "testdata", "pystubs")
	run := func(env []string, script string, args ...string) Row {
		t.Helper()
		cmd := exec.Command(py, append([]string{filepath.Join(peers, script), "--device", "cpu", "--tiny", "--steps", "1", "--warmup", "1"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s%s", script, args, err, out, errb.String())
		}
		p := filepath.Join(t.TempDir(), "r.jsonl")
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, err := readRows(p)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %v %+v from %s", script, err, rows, out)
		}
		return rows[0]
	}
	tiny := presets["tiny"]
	flopsOK := func(r Row, mode string, p FlopParams) {
		t.Helper()
		if r.TokensPerS <= 0 || r.StepMS <= 0 || r.Trained <= 0 || r.Shape.Name != "tiny" || r.Shape.KV != 2 {
			t.Errorf("%s: %+v", mode, r)
		}
		want := StepFlops(tiny, mode, p)
		if got := r.TFLOPs * r.StepMS / 1000 * 1e12; math.Abs(got-want.Total) > 1e-6*want.Total {
			t.Errorf("%s: %v FLOPs per step, want %v", mode, got, want.Total)
		}
	}
	stub := []string{"PYTHONPATH=" + stubs}
	lora := run(stub, "lora_peft.py")
	flopsOK(lora, "lora", FlopParams{Rank: 32, Targets: []string{"q", "k", "v", "up", "down"}})
	// r 32 on q (64+64), k (64+32), v (64+32), up (64+160), down (160+64)
	// in 2 layers.
	if lora.Trained != 32*(128+96+96+224+224)*2 || lora.Impl != "peft-lora" {
		t.Errorf("lora: %d trained", lora.Trained)
	}
	oom := run(append(stub, "STUB_OOM=1"), "lora_peft.py", "--grad-ckpt", "auto")
	if !oom.ok() || !strings.Contains(oom.Notes, "out of memory without gradient checkpointing") {
		t.Errorf("lora after OOM: %+v", oom)
	}
	full := run(stub, "full_ft_torch.py")
	flopsOK(full, "full", FlopParams{})
	plain := run(nil, "full_ft_torch.py")
	if !plain.ok() || !strings.Contains(plain.Notes, "transformers not installed") {
		t.Errorf("full without transformers: %+v", plain)
	}
	if exec.Command(py, "-c", "import transformers").Run() != nil {
		if r := run(nil, "lora_peft.py"); r.Skipped != "transformers not installed" {
			t.Errorf("lora without transformers: %+v", r)
		}
	}
}
