package main

import "strings"

// peakTable is the datasheet dense bf16 tensor-core rate (fp32
// accumulation, no sparsity) in TFLOP/s, by a lower-case fragment of the
// device name; the first match wins, so specific names come first.
// bench/peers/common_gpu.py holds the same table.
var peakTable = []struct {
	frag   string
	tflops float64
}{
	{"h100 pcie", 756},
	{"h100 nvl", 835},
	{"h200 nvl", 835},
	{"gh200", 989.4},
	{"h200", 989.4},
	{"h100", 989.4}, // SXM5 ("NVIDIA H100 80GB HBM3")
	{"h800", 989.4},
	{"b200", 2250},
	{"a100", 312},
	{"a800", 312},
	{"l40s", 362},
	{"l40", 181},
	{"l4", 121},
}

// datasheetPeak returns the dense bf16 peak of a device by name, or 0 when
// the name is not in the table.
func datasheetPeak(device string) float64 {
	d := strings.ToLower(device)
	for _, p := range peakTable {
		if strings.Contains(d, p.frag) {
			return p.tflops
		}
	}
	return 0
}

// deviceModel extracts the model name from the CUDA backend's Name
// ("cuda:0 (NVIDIA H100 80GB HBM3, 79 GiB, …)" → "NVIDIA H100 80GB HBM3").
func deviceModel(name string) string {
	i := strings.Index(name, "(")
	if i < 0 {
		return name
	}
	rest := name[i+1:]
	if j := strings.Index(rest, ","); j >= 0 {
		return rest[:j]
	}
	return strings.TrimSuffix(rest, ")")
}
