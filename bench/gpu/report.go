package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Row is one line of the report: a run of ours (Result) or of a PyTorch
// peer, read from its JSON object. Fields a peer does not set stay zero.
type Row struct {
	Impl         string             `json:"impl"`
	Mode         string             `json:"mode"`
	Shape        Shape              `json:"shape"`
	Tokens       int                `json:"tokens"`
	Trained      int64              `json:"trained"`
	StepMS       float64            `json:"step_ms"`
	TokensPerS   float64            `json:"tokens_per_s"`
	TFLOPs       float64            `json:"tflops"`
	PeakTFLOPs   float64            `json:"peak_tflops"`
	MFU          float64            `json:"mfu"`
	PeakMem      int64              `json:"peak_mem_bytes"`
	DeviceUsed   int64              `json:"device_used_bytes"`
	DeviceTotal  int64              `json:"device_total_bytes"`
	Device       string             `json:"device"`
	Notes        string             `json:"notes"`
	Versions     map[string]string  `json:"versions"`
	MatmulTFLOPs float64            `json:"matmul_tflops"`
	PhaseMS      map[string]float64 `json:"phase_ms"`
	Accum        int                `json:"accum"`
	Error        string             `json:"error"`
	Skipped      string             `json:"skipped"`
}

// ok reports whether the row holds a measurement.
func (r Row) ok() bool { return r.Error == "" && r.Skipped == "" && r.StepMS > 0 }

// toRows converts our results to report rows.
func toRows(rs []Result) []Row {
	var rows []Row
	for _, r := range rs {
		b, _ := json.Marshal(r)
		var row Row
		_ = json.Unmarshal(b, &row)
		rows = append(rows, row)
	}
	return rows
}

// reportMeta is what the report says about the machine.
type reportMeta struct {
	Card, Driver, Date string
}

// reportMain implements "bench-gpu report": it reads JSON objects, one per
// line, from the files (lines that are not JSON objects are skipped: the
// peers' warnings) and prints the Markdown report.
func reportMain(args []string, w io.Writer) int {
	fs := flag.NewFlagSet("bench-gpu report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	card := fs.String("card", "", "GPU name (nvidia-smi's)")
	driver := fs.String("driver", "", "driver version (nvidia-smi's)")
	date := fs.String("date", "", "date of the run (default: now, UTC)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var rows []Row
	for _, f := range fs.Args() {
		rs, err := readRows(f)
		if err != nil {
			fmt.Fprintln(stderr, "bench-gpu report:", err)
			return 1
		}
		rows = append(rows, rs...)
	}
	if *date == "" {
		*date = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	}
	writeTable(w, rows, reportMeta{Card: *card, Driver: *driver, Date: *date})
	return 0
}

func readRows(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []Row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r Row
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Impl == "" {
			continue
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// implName is how the table names an implementation.
func implName(r Row) string {
	switch r.Impl {
	case "smt-go":
		return "ours (Go, CUDA backend)"
	case "peft-lora":
		return "PyTorch + PEFT LoRA r32"
	case "torch-full":
		return "PyTorch"
	}
	return r.Impl
}

// writeTable prints the runs and the ratios issue 8 asks for, with their
// targets (DESIGN.md §5).
func writeTable(w io.Writer, rows []Row, meta reportMeta) {
	fmt.Fprintln(w, "| shape | mode | implementation | trained | ms/step | tokens/s | TFLOP/s | MFU | peak memory | device used | notes |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rows {
		notes := r.Notes
		if r.Versions != nil {
			var v []string
			for _, k := range []string{"torch", "transformers", "peft"} {
				if r.Versions[k] != "" {
					v = append(v, k+" "+r.Versions[k])
				}
			}
			notes = strings.TrimSpace(strings.Join(v, ", ") + "; " + notes)
			notes = strings.TrimSuffix(notes, ";")
		}
		if r.Accum > 1 {
			notes = strings.TrimPrefix(notes+fmt.Sprintf("; %d micro-batches of %d", r.Accum, r.Shape.Batch/r.Accum), "; ")
		}
		if len(r.PhaseMS) > 0 {
			notes = strings.TrimPrefix(notes+fmt.Sprintf("; phases ms: fwd %.0f, loss %.0f, bwd %.0f, opt %.0f",
				r.PhaseMS["forward"], r.PhaseMS["loss"], r.PhaseMS["backward"], r.PhaseMS["optimizer"]), "; ")
		}
		if !r.ok() {
			why := r.Error
			if r.Skipped != "" {
				why = "skipped: " + r.Skipped
			}
			if why == "" {
				why = "no measurement"
			}
			fmt.Fprintf(w, "| %s | %s | %s | | | | | | | | %s |\n", r.Shape.Name, r.Mode, implName(r), cell(why))
			continue
		}
		mfu := "–"
		if r.MFU > 0 {
			mfu = fmt.Sprintf("%.1f%%", 100*r.MFU)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f | %.0f | %.1f | %s | %.2f GiB | %s | %s |\n", r.Shape.Name, r.Mode, implName(r),
			count(r.Trained), r.StepMS, r.TokensPerS, r.TFLOPs, mfu, gib(r.PeakMem), gibOrDash(r.DeviceUsed), cell(notes))
	}
	fmt.Fprintln(w)
	// Runs compare within a shape and micro-batching.
	key := func(r Row) string {
		if r.Accum > 1 {
			return fmt.Sprintf("%s in %d micro-batches", r.Shape.Name, r.Accum)
		}
		return r.Shape.Name
	}
	find := func(impl, mode, shape string) (Row, bool) {
		for _, r := range rows {
			if r.Impl == impl && r.Mode == mode && key(r) == shape && r.ok() {
				return r, true
			}
		}
		return Row{}, false
	}
	var shapes []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[key(r)] {
			seen[key(r)] = true
			shapes = append(shapes, key(r))
		}
	}
	mark := func(good bool) string {
		if good {
			return "meets the target"
		}
		return "misses the target"
	}
	for _, s := range shapes {
		smt, okS := find("smt-go", "smt", s)
		if okS && smt.MFU > 0 {
			fmt.Fprintf(w, "- %s, ours SMT MFU: **%.1f%%** (target ≥ 50%%: %s)\n", s, 100*smt.MFU, mark(smt.MFU >= 0.5))
		}
		if lora, ok := find("peft-lora", "lora", s); ok && okS {
			x := smt.TokensPerS / lora.TokensPerS
			fmt.Fprintf(w, "- %s, tokens/s ours SMT ÷ PyTorch + PEFT LoRA r32: **%.2f×** (target ≥ 2×: %s)\n", s, x, mark(x >= 2))
		}
		full, okF := find("smt-go", "full", s)
		if okS && okF {
			x := float64(smt.PeakMem) / float64(full.PeakMem)
			line := fmt.Sprintf("- %s, peak memory ours SMT ÷ ours full fine-tuning: **%.1f%%** (target ≤ 33%%: %s)", s, 100*x, mark(x <= 0.33))
			if smt.DeviceUsed > 0 && full.DeviceUsed > 0 {
				line += fmt.Sprintf("; by cuMemGetInfo %.1f%%", 100*float64(smt.DeviceUsed)/float64(full.DeviceUsed))
			}
			fmt.Fprintln(w, line)
		}
		if tf, ok := find("torch-full", "full", s); ok {
			if okS {
				fmt.Fprintf(w, "- %s, peak memory ours SMT ÷ PyTorch full fine-tuning: %.1f%%\n", s, 100*float64(smt.PeakMem)/float64(tf.PeakMem))
			}
			if okF {
				fmt.Fprintf(w, "- %s, full fine-tuning tokens/s ours ÷ PyTorch: %.2f×; peak memory ours ÷ PyTorch: %.1f%%\n", s,
					full.TokensPerS/tf.TokensPerS, 100*float64(full.PeakMem)/float64(tf.PeakMem))
			}
		}
	}
	var device string
	peak, matmul := 0.0, 0.0
	for _, r := range rows {
		if device == "" && r.Impl == "smt-go" && r.Device != "" {
			device = r.Device
		}
		if peak == 0 && r.PeakTFLOPs > 0 {
			peak = r.PeakTFLOPs
		}
		if matmul == 0 && r.MatmulTFLOPs > 0 {
			matmul = r.MatmulTFLOPs
		}
	}
	if peak > 0 {
		line := fmt.Sprintf("- MFU is against the datasheet dense bf16 peak, %.0f TFLOP/s", peak)
		if matmul > 0 {
			line += fmt.Sprintf("; a bf16 8192³ matrix product through PyTorch ran at %.0f TFLOP/s here (%.0f%% of it)", matmul, 100*matmul/peak)
		}
		fmt.Fprintln(w, line)
	}
	var who []string
	if meta.Card != "" {
		who = append(who, "card "+meta.Card)
	}
	if meta.Driver != "" {
		who = append(who, "driver "+meta.Driver)
	}
	if device != "" {
		who = append(who, "backend "+device)
	}
	if meta.Date != "" {
		who = append(who, meta.Date)
	}
	if len(who) > 0 {
		fmt.Fprintln(w, "- "+strings.Join(who, "; "))
	}
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "/"), "\n", " ") }

func gibOrDash(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f GiB", gib(b))
}

// count writes a parameter count with a unit: 56.9M, 1.10B.
func count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
