// Command bench-gpu times a warm SMT training step (forward, backward with
// the selected blocks' gradients, AdamW over the blocks) of a randomly
// initialised LLaMA on one GPU through the CUDA backend, and full
// fine-tuning of the same shape for the memory ratio (issue 8).
//
//	bench-gpu                                  LLaMA-2-7B shape, SMT, batch 16 × 512
//	bench-gpu -shape tinyllama-1.1b -mode smt,full
//	bench-gpu -json …                          one JSON object per run on stdout
//	bench-gpu report [-card C] [-driver D] FILE…
//	                                           Markdown table of JSON lines (ours and
//	                                           the PyTorch peers' bench/peers/*.py)
//
// It reports the median step time of a few warm steps, tokens/s, MFU
// counting the real FLOPs (flops.go states the rule), and peak GPU memory:
// the backend's own counter and cuMemGetInfo. pipelines/bench-gpu.sh runs it
// with the PyTorch peers in one go. Without a usable GPU it says why and
// exits with status 1.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smt-go/smt/pkg/backend/choose"
	"github.com/smt-go/smt/pkg/backend/cuda"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "report" {
		os.Exit(reportMain(os.Args[2:], os.Stdout))
	}
	os.Exit(benchMain(os.Args[1:], cuda.Options{}, os.Stdout))
}

// stderr receives progress and errors (tests capture it).
var stderr io.Writer = os.Stderr

// benchMain runs the benchmark with the given arguments, writes the
// results to stdout and returns the exit status. load says where the CUDA
// libraries are (tests point it at the stand-ins).
func benchMain(args []string, load cuda.Options, stdout io.Writer) int {
	fs := flag.NewFlagSet("bench-gpu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	shapeName := fs.String("shape", "llama2-7b", "model shape preset: "+presetNames())
	var over Shape
	fs.IntVar(&over.Dim, "dim", 0, "hidden size (0: the preset's)")
	fs.IntVar(&over.Layers, "layers", 0, "layers (0: the preset's)")
	fs.IntVar(&over.Heads, "heads", 0, "attention heads (0: the preset's)")
	fs.IntVar(&over.KV, "kv", 0, "key/value heads (0: the preset's)")
	fs.IntVar(&over.FFN, "ffn", 0, "MLP width (0: the preset's)")
	fs.IntVar(&over.Vocab, "vocab", 0, "vocabulary (0: the preset's)")
	fs.IntVar(&over.Batch, "batch", 0, "sequences per step (0: the preset's, 16)")
	fs.IntVar(&over.Seq, "seq", 0, "tokens per sequence (0: the preset's, 512)")
	modes := fs.String("mode", "smt", "what to train: smt, full, or both (smt,full: one fresh backend each)")
	var o RunOptions
	fs.Float64Var(&o.Budget, "budget", 0.0084, "SMT budget as a fraction of the 2-D parameters (blocks = int(budget·params/S²))")
	fs.IntVar(&o.BlockSize, "block", 256, "SMT block size S")
	fs.IntVar(&o.NBlocks, "nblocks", 0, "SMT blocks (0: from -budget)")
	fs.StringVar(&o.Select, "select", "random", "SMT block choice: random (uniform over all q/k/v blocks) or v-heavy (60% in v)")
	seed := fs.Uint64("seed", 1, "seed of weights, data and block choice")
	fs.IntVar(&o.Steps, "steps", 3, "timed steps (the median is reported)")
	fs.IntVar(&o.Warmup, "warmup", 1, "untimed steps before them (cuBLAS heuristics, PTX JIT, scratch growth)")
	fs.Float64Var(&o.PeakTFLOPs, "peak", 0, "peak bf16 TFLOP/s for MFU (0: the datasheet value for the device's name)")
	fs.IntVar(&o.Accum, "accum", 1, "micro-batches per step: the batch is split and the gradients accumulated (less activation memory, same tokens per step)")
	fs.BoolVar(&o.Phases, "phases", true, "time one more step phase by phase (forward, loss, backward, optimizer)")
	fs.Float64Var(&o.Std, "std", 0.02, "standard deviation of the random weights")
	device := fs.Int("device", 0, "CUDA device number")
	asJSON := fs.Bool("json", false, "print one JSON object per run instead of a table")
	plan := fs.Bool("plan", false, "print what each mode would allocate on the device, without a GPU, and exit")
	fs.BoolVar(&quiet, "q", false, "no progress on stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: bench-gpu [flags]    (or: bench-gpu report [-card NAME] [-driver VER] FILE…)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench-gpu: unexpected arguments %q\n", fs.Args())
		return 2
	}
	sh, ok := presets[*shapeName]
	if !ok {
		fmt.Fprintf(stderr, "bench-gpu: unknown shape %q (%s)\n", *shapeName, presetNames())
		return 2
	}
	sh = overlay(sh, over)
	if err := sh.Validate(); err != nil {
		fmt.Fprintln(stderr, "bench-gpu:", err)
		return 2
	}
	o.Seed = *seed
	if o.Steps < 1 || o.Warmup < 0 || o.BlockSize <= 0 || o.Budget <= 0 || o.NBlocks < 0 || o.Accum < 1 || sh.Batch%o.Accum != 0 {
		fmt.Fprintln(stderr, "bench-gpu: -steps must be ≥ 1, -warmup ≥ 0, -block and -budget positive, -nblocks ≥ 0, -accum ≥ 1 dividing -batch")
		return 2
	}
	var list []string
	for _, m := range strings.Split(*modes, ",") {
		if m = strings.TrimSpace(m); m != "smt" && m != "full" {
			fmt.Fprintf(stderr, "bench-gpu: unknown mode %q (smt, full)\n", m)
			return 2
		}
		list = append(list, strings.TrimSpace(m))
	}

	if *plan {
		var plans []Plan
		for _, mode := range list {
			o.Mode = mode
			p, err := planMode(sh, o)
			if err != nil {
				fmt.Fprintf(stderr, "bench-gpu: %s %s: %v\n", sh.Name, mode, err)
				return 1
			}
			plans = append(plans, p)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			for _, p := range plans {
				_ = enc.Encode(p)
			}
		} else {
			writePlans(stdout, sh, o.Accum, plans)
		}
		return 0
	}

	var results []Result
	status := 0
	for _, mode := range list {
		be, err := cuda.NewWithOptions(*device, load)
		if err != nil {
			msg := fmt.Sprintf("no usable CUDA GPU (%s); this benchmark needs one", choose.Reason(err))
			fmt.Fprintln(stderr, "bench-gpu: "+msg)
			if *asJSON { // a row for the report
				enc := json.NewEncoder(stdout)
				for _, m := range list {
					_ = enc.Encode(Result{Impl: "smt-go", Mode: m, Shape: sh, Tokens: sh.Tokens(), Lowest: -1, Error: msg})
				}
			}
			return 1
		}
		logf("%s", be.Name())
		o.Mode = mode
		res, err := runMode(be, sh, o)
		if err != nil {
			fmt.Fprintf(stderr, "bench-gpu: %s %s: %v\n", sh.Name, mode, err)
			res.Error = err.Error()
			status = 1
		} else if res.Error != "" {
			fmt.Fprintf(stderr, "bench-gpu: %s %s: %s\n", sh.Name, mode, res.Error)
			status = 1
		} else {
			logf("%s %s: %.1f ms/step, %.0f tokens/s, %.1f TFLOP/s (MFU %.1f%%), peak %.2f GiB (device %.2f GiB)",
				sh.Name, mode, res.StepMS, res.TokensPerS, res.TFLOPs, 100*res.MFU, gib(res.PeakMem), gib(res.DeviceUsed))
		}
		results = append(results, res)
		_ = be.Close()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(stderr, "bench-gpu:", err)
				return 1
			}
		}
		return status
	}
	writeTable(stdout, toRows(results), reportMeta{})
	return status
}

// overlay replaces the preset's sizes by the non-zero ones of o.
func overlay(s, o Shape) Shape {
	set := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	orig := s
	set(&s.Dim, o.Dim)
	set(&s.Layers, o.Layers)
	set(&s.Heads, o.Heads)
	set(&s.KV, o.KV)
	set(&s.FFN, o.FFN)
	set(&s.Vocab, o.Vocab)
	set(&s.Batch, o.Batch)
	set(&s.Seq, o.Seq)
	if s != orig {
		s.Name += "*" // a preset changed by flags
	}
	return s
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }
