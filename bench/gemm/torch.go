package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// python is the interpreter with Debian's PyTorch.
const python = "/usr/bin/python3"

// torchAvailable reports whether python can import torch.
func torchAvailable() bool {
	return exec.Command(python, "-c", "import torch").Run() == nil
}

// torchEnv is PyTorch's best environment: OpenBLAS free to pick its
// AVX-512 kernels, OpenMP threads that sleep when idle, and glibc malloc
// kept from returning (and re-faulting) large blocks.
func torchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_WAIT_POLICY", "GLIBC_TUNABLES", "OMP_NUM_THREADS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "OMP_WAIT_POLICY=PASSIVE",
		"GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=34359738368")
}

// runTorch measures every shape with PyTorch on threads threads and returns
// GFLOP/s by shape name.
func runTorch(script string, threads, reps int, shapes []shape) (map[string]float64, error) {
	args := []string{script, fmt.Sprint(threads), fmt.Sprint(reps)}
	for _, s := range shapes {
		args = append(args, s.torchSpec())
	}
	cmd := exec.Command(python, args...)
	cmd.Env = torchEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
	}
	res := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Shape  string  `json:"shape"`
			GFLOPS float64 `json:"gflops"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: bad output line %q: %v", script, sc.Text(), err)
		}
		for _, s := range shapes {
			if s.torchSpec() == r.Shape {
				res[s.name()] = r.GFLOPS
			}
		}
	}
	return res, nil
}
