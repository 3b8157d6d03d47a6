// Command bench-train times one training step (forward, backward, update)
// of a randomly initialised LLaMA on the CPU — full fine-tuning and SMT —
// and, in the same run, the same steps in PyTorch (bench/peers/
// train_step_torch.py under Debian's python3-torch), and prints a Markdown
// table with tokens/s and the ratio.
//
// The default shape is stories15M's (dim 288, 6 layers, 6 heads, hidden
// 768, vocab 32000) with batches of 8 × 256 tokens, as issue 4 asks.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/gemm"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/memstat"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/train"
)

type shape struct {
	dim, layers, heads, kv, hidden, vocab, batch, seq, block, nblocks int
}

type result struct {
	Impl, Mode string
	MS         float64
	TokensPerS float64
	Trained    int
}

type memSource []shards.Example

func (s memSource) Len() int                 { return len(s) }
func (s memSource) Get(i int) shards.Example { return s[i] }

func main() {
	var sh shape
	flag.IntVar(&sh.dim, "dim", 288, "model width")
	flag.IntVar(&sh.layers, "layers", 6, "layers")
	flag.IntVar(&sh.heads, "heads", 6, "attention heads")
	flag.IntVar(&sh.kv, "kv", 6, "key/value heads")
	flag.IntVar(&sh.hidden, "hidden", 768, "MLP width")
	flag.IntVar(&sh.vocab, "vocab", 32000, "vocabulary")
	flag.IntVar(&sh.batch, "batch", 8, "sequences per step")
	flag.IntVar(&sh.seq, "seq", 256, "tokens per sequence")
	flag.IntVar(&sh.block, "block", 32, "SMT block size")
	flag.IntVar(&sh.nblocks, "nblocks", 126, "SMT blocks (126 of 32×32 ≈ 0.84% of stories15M)")
	steps := flag.Int("steps", 5, "timed steps (the median is reported)")
	threads := flag.Int("threads", runtime.NumCPU(), "threads")
	modes := flag.String("modes", "full,smt", "modes to run")
	torch := flag.String("torch", "auto", "run the PyTorch peer: auto, on, off")
	flag.Parse()

	fmt.Fprintf(os.Stderr, "bench-train: %s, GEMM kernel %s, %d threads\n", cpuModel(), gemm.KernelName(), *threads)
	var results []result
	for _, mode := range strings.Split(*modes, ",") {
		r := runGo(sh, mode, *steps, *threads)
		fmt.Fprintf(os.Stderr, "go %s: %.0f ms/step, %.0f tokens/s (peak RSS %s)\n", mode, r.MS, r.TokensPerS, memstat.Bytes(memstat.PeakRSS()))
		results = append(results, r)
	}
	if *torch == "on" || (*torch == "auto" && exec.Command("/usr/bin/python3", "-c", "import torch").Run() == nil) {
		tr, ver, err := runTorch(sh, *modes, *steps, *threads)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-train: PyTorch peer failed:", err)
			if *torch == "on" {
				os.Exit(1)
			}
		} else {
			fmt.Fprintf(os.Stderr, "PyTorch %s done\n", ver)
			results = append(results, tr...)
		}
	}
	fmt.Printf("One training step, model dim %d, %d layers, %d heads (%d KV), hidden %d, vocab %d; batch %d × %d tokens; %d threads; SMT: %d blocks of %d×%d in q/k/v.\n\n",
		sh.dim, sh.layers, sh.heads, sh.kv, sh.hidden, sh.vocab, sh.batch, sh.seq, *threads, sh.nblocks, sh.block, sh.block)
	fmt.Println("| mode | implementation | trained values | ms/step | tokens/s | ours ÷ PyTorch |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	peer := map[string]float64{}
	for _, r := range results {
		if r.Impl != "go" {
			peer[r.Mode] = r.TokensPerS
		}
	}
	for _, r := range results {
		ratio := ""
		if r.Impl == "go" && peer[r.Mode] > 0 {
			ratio = fmt.Sprintf("%.2f×", r.TokensPerS/peer[r.Mode])
		}
		fmt.Printf("| %s | %s | %d | %.0f | %.0f | %s |\n", r.Mode, r.Impl, r.Trained, r.MS, r.TokensPerS, ratio)
	}
}

func runGo(sh shape, mode string, steps, threads int) result {
	cfg := &llama.Config{HiddenSize: sh.dim, IntermediateSize: sh.hidden, NumHiddenLayers: sh.layers, NumAttentionHeads: sh.heads,
		NumKeyValueHeads: sh.kv, RMSNormEps: 1e-5, RopeTheta: 10000, VocabSize: sh.vocab, TieWordEmbeddings: true,
		MaxPositionEmbeddings: sh.seq, EOSTokenIDs: []int{2}}
	m := llama.New(cfg, cpu.New32(threads))
	m.InitRandom(1, 0.02)
	r := rand.New(rand.NewPCG(1, 2))
	var src memSource
	for i := 0; i < sh.batch; i++ {
		ex := shards.Example{Record: int64(i), IDs: make([]int32, sh.seq), Mask: make([]uint8, sh.seq)}
		for t := range ex.IDs {
			ex.IDs[t] = int32(r.IntN(sh.vocab))
			ex.Mask[t] = 1
		}
		src = append(src, ex)
	}
	var tr *train.Trainable
	switch mode {
	case "full":
		all := make([]int, len(m.Layout.Tensors))
		for i := range all {
			all[i] = i
		}
		tr = train.NewFull(m, all, false)
	case "smt":
		tables := map[int]backend.BlockTable{}
		per := max(1, sh.nblocks/(3*sh.layers))
		for l := 0; l < sh.layers; l++ {
			for _, k := range []llama.Kind{llama.Q, llama.K, llama.V} {
				out, in := m.LinearShape(k)
				S := sh.block
				tb := backend.BlockTable{Size: S, Out: out, In: in}
				for _, j := range r.Perm((out / S) * (in / S))[:per] {
					tb.Rows = append(tb.Rows, int32(j/(in/S)))
					tb.Cols = append(tb.Cols, int32(j%(in/S)))
				}
				tables[m.Layout.Index(k, l)] = tb
			}
		}
		var err error
		if tr, err = train.NewBlocks(m, tables); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
		os.Exit(2)
	}
	l, err := train.NewLoader(src, sh.batch, sh.seq, false, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t, err := train.NewTrainer(m, tr, train.Options{LR: 1e-4, Schedule: "constant", Steps: steps + 1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1, Accum: 1}, l)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t.TrainStep() // warm-up
	var ms []float64
	for s := 0; s < steps; s++ {
		start := time.Now()
		t.TrainStep()
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	sort.Float64s(ms)
	med := ms[len(ms)/2]
	return result{Impl: "go", Mode: mode, MS: med, TokensPerS: float64(sh.batch*sh.seq) / (med / 1000), Trained: tr.N}
}

func runTorch(sh shape, modes string, steps, threads int) ([]result, string, error) {
	args := []string{"bench/peers/train_step_torch.py", "--modes", modes, "--steps", strconv.Itoa(steps), "--threads", strconv.Itoa(threads)}
	for k, v := range map[string]int{"dim": sh.dim, "layers": sh.layers, "heads": sh.heads, "kv": sh.kv, "hidden": sh.hidden,
		"vocab": sh.vocab, "batch": sh.batch, "seq": sh.seq, "block": sh.block, "nblocks": sh.nblocks} {
		args = append(args, "--"+k, strconv.Itoa(v))
	}
	cmd := exec.Command("/usr/bin/python3", args...)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(e, "OMP_WAIT_POLICY=") && !strings.HasPrefix(e, "GLIBC_TUNABLES=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, "OMP_WAIT_POLICY=PASSIVE", "GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=34359738368")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("%v: %s", err, errb.String())
	}
	var res struct {
		Torch   string `json:"torch"`
		Results []struct {
			Mode       string  `json:"mode"`
			MS         float64 `json:"ms"`
			TokensPerS float64 `json:"tokens_per_s"`
			Trained    int     `json:"trained"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, "", fmt.Errorf("parse %q: %w", out.String(), err)
	}
	var rs []result
	for _, r := range res.Results {
		rs = append(rs, result{Impl: "PyTorch " + res.Torch, Mode: r.Mode, MS: r.MS, TokensPerS: r.TokensPerS, Trained: r.Trained})
	}
	return rs, res.Torch, nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.Index(line, ":"); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return runtime.GOARCH
}
