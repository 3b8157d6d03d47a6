package main

import "golang.org/x/sys/cpu"

// addChain runs n×64 dependent integer adds (one per cycle).
//
//go:noescape
func addChain(n int) int

// fmaLoop512 runs n×24 independent 512-bit FMAs.
//
//go:noescape
func fmaLoop512(n int)

// fmaLoop256 runs n×12 independent 256-bit FMAs.
//
//go:noescape
func fmaLoop256(n int)

// probes returns the clock and FMA-throughput probes for this CPU, the
// float32 lanes of its widest FMA, and whether the probes exist.
func probes() (clock func(n int) (cycles float64), fma func(n int) (flops float64), lanes int, ok bool) {
	clock = func(n int) float64 { addChain(n); return 64 * float64(n) }
	switch {
	case cpu.X86.HasAVX512F:
		return clock, func(n int) float64 { fmaLoop512(n); return 24 * 32 * float64(n) }, 16, true
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return clock, func(n int) float64 { fmaLoop256(n); return 12 * 16 * float64(n) }, 8, true
	}
	return clock, nil, 4, false
}
