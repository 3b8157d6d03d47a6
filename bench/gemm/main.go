// Command gemm benchmarks pkg/gemm on the training step's matrix shapes
// against OpenBLAS (loaded in-process) and PyTorch (a subprocess), and
// prints a Markdown table with each result's share of the CPU's float32
// peak.
//
//	go run ./bench/gemm [-reps 5] [-torch auto|on|off]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/smt-go/smt/pkg/gemm"
	"github.com/smt-go/smt/pkg/gemm/openblas"
)

func main() {
	reps := flag.Int("reps", 3, "timed calls per shape, implementation and round")
	rounds := flag.Int("rounds", 4, "rounds over all shapes and implementations; each cell reports its best call over all rounds, so a burst of load from other processes spoils one round, not the cell")
	torch := flag.String("torch", "auto", "PyTorch column: auto (if /usr/bin/python3 imports torch), on, off")
	script := flag.String("torch-script", defaultScript(), "path of bench/peers/gemm_torch.py")
	quick := flag.Bool("quick", false, "skip the largest shapes")
	only := flag.String("shapes", "", "comma-separated M×K×N (or MxKxN) names to run; default all")
	flag.Parse()

	shapes := benchShapes
	if *quick {
		shapes = shapes[:0:0]
		for _, s := range benchShapes {
			if s.flops() < 20e9 {
				shapes = append(shapes, s)
			}
		}
	}
	if *only != "" {
		var sel []shape
		for _, s := range shapes {
			for _, name := range strings.Split(*only, ",") {
				if strings.ReplaceAll(name, "x", "×") == s.name() {
					sel = append(sel, s)
				}
			}
		}
		shapes = sel
	}
	threads := runtime.NumCPU()

	fmt.Fprintf(os.Stderr, "measuring clock and FMA peak...\n")
	loadBefore := loadAvg()
	pk := measurePeak()

	cols := []column{
		{title: "Go 1T", threads: 1, run: gemm.Sgemm, setThreads: gemm.SetThreads},
		{title: fmt.Sprintf("Go %dT", threads), threads: threads, run: gemm.Sgemm, setThreads: gemm.SetThreads},
	}
	blasNote := ""
	if lib, err := openblas.Load(); err != nil {
		blasNote = "OpenBLAS: not measured (" + strings.ReplaceAll(err.Error(), "\n", " ") + ")"
	} else {
		blasNote = fmt.Sprintf("OpenBLAS: %s, loaded in-process from %s, core %s (removed from the C environment before loading: %s)",
			lib.Config, lib.Path, lib.CoreName, orNone(lib.RemovedEnv))
		cols = append(cols,
			column{title: "OpenBLAS 1T", threads: 1, run: lib.Sgemm, setThreads: lib.SetThreads},
			column{title: fmt.Sprintf("OpenBLAS %dT", threads), threads: threads, run: lib.Sgemm, setThreads: lib.SetThreads})
	}

	torchNote := "PyTorch: not measured"
	var torchRes map[string]float64
	useTorch := *torch == "on" || (*torch == "auto" && torchAvailable())
	if useTorch {
		torchRes = map[string]float64{}
		torchNote = fmt.Sprintf("PyTorch: %s %s with torch.set_num_threads(%d), OPENBLAS_CORETYPE unset, OMP_WAIT_POLICY=PASSIVE", python, *script, threads)
	}

	results := make([]map[string]float64, len(cols))
	for i := range results {
		results[i] = map[string]float64{}
	}
	ops := make([]*operands, len(shapes))
	for i, s := range shapes {
		ops[i] = newOperands(s)
	}
	for round := 1; round <= *rounds; round++ {
		for si, s := range shapes {
			for i, col := range cols {
				fmt.Fprintf(os.Stderr, "round %d/%d  %-12s %s\n", round, *rounds, col.title, s.name())
				col.setThreads(col.threads)
				if strings.HasPrefix(col.title, "Go") {
					// Let OpenBLAS's threads, which spin for a while after
					// each call, go to sleep before timing our own.
					time.Sleep(300 * time.Millisecond)
				}
				results[i][s.name()] = max(results[i][s.name()], measure(col.run, ops[si], *reps))
			}
		}
		gemm.SetThreads(0)
		if useTorch && torchRes != nil {
			fmt.Fprintf(os.Stderr, "round %d/%d  PyTorch %dT\n", round, *rounds, threads)
			res, err := runTorch(*script, threads, *reps, shapes)
			if err != nil {
				torchNote = "PyTorch: failed: " + err.Error()
				torchRes = nil
				continue
			}
			for k, v := range res {
				torchRes[k] = max(torchRes[k], v)
			}
		}
	}

	printTable(os.Stdout, pk, shapes, cols, results, torchRes, threads)
	fmt.Printf("\n- CPU: %s, %d cores; Go kernel: %s; %s\n", cpuModel(), runtime.NumCPU(), gemm.KernelName(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Printf("- %s\n- %s\n- %s\n", pk.note, blasNote, torchNote)
	fmt.Printf("- load average (1 min) before/after the run: %s / %s (other processes on the machine lower the numbers)\n", loadBefore, loadAvg())
	fmt.Printf("- GFLOP/s = 2·M·N·K / best time over %d rounds × %d calls (each after a warm-up call); C is reused, beta = 0.\n", *rounds, *reps)
}

// column is one implementation at one thread count.
type column struct {
	title      string
	threads    int
	run        func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	setThreads func(int)
}

// measure returns the best GFLOP/s of reps calls after one warm-up call.
func measure(run func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int), o *operands, reps int) float64 {
	s := o.s
	call := func() {
		run(s.transA, s.transB, s.m, s.n, s.k, 1, o.a, s.lda(), o.b, s.ldb(), 0, o.c, s.n)
	}
	call()
	best := time.Duration(1<<63 - 1)
	for i := 0; i < reps; i++ {
		t := time.Now()
		call()
		best = min(best, time.Since(t))
	}
	return s.flops() / best.Seconds() / 1e9
}

// defaultScript finds bench/peers/gemm_torch.py from the working directory
// (the repository root when run by bench/gemm.sh).
func defaultScript() string {
	for _, p := range []string{"bench/peers/gemm_torch.py", "../peers/gemm_torch.py", "../../bench/peers/gemm_torch.py"} {
		if _, err := os.Stat(p); err == nil {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	return "bench/peers/gemm_torch.py"
}

// cpuModel returns the CPU model name from /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// loadAvg returns the 1-minute load average, or "?".
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}
