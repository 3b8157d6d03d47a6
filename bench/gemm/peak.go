package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// peakInfo is the CPU's float32 peak: theoretical from the measured clock,
// and the FMA throughput actually sustained by a register-only loop.
type peakInfo struct {
	cores      int
	clockGHz   float64 // sustained clock with every core busy
	lanes      int     // float32 lanes per FMA instruction
	fmaUnits   int     // FMA pipes per core (assumed, see note)
	peak       float64 // GFLOP/s, all cores: cores × units × lanes × 2 × clock
	peak1      float64 // GFLOP/s, one core
	sustained  float64 // GFLOP/s measured by the FMA loop on all cores
	sustained1 float64 // on one core
	note       string
}

// measurePeak times the probes on one core and on all cores at once. Each
// worker times its own short runs (about 2 ms, shorter than a scheduler
// time slice) and keeps its best of many, so other processes on the
// machine only make the measurement slower to converge, not wrong.
func measurePeak() peakInfo {
	clock, fma, lanes, ok := probes()
	pi := peakInfo{cores: runtime.NumCPU(), lanes: lanes, fmaUnits: 2}
	if !ok {
		pi.note = "no clock/FMA probe for this CPU"
		return pi
	}
	// rate returns the summed best per-worker rate (work units per second).
	rate := func(f func(int) float64, n, workers int) float64 {
		best := make([]float64, workers)
		for try := 0; try < 40; try++ {
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					start := time.Now()
					x := f(n)
					best[w] = max(best[w], x/time.Since(start).Seconds())
				}()
			}
			wg.Wait()
		}
		sum := 0.0
		for _, b := range best {
			sum += b
		}
		return sum
	}
	pi.clockGHz = rate(clock, 100_000, pi.cores) / float64(pi.cores) / 1e9
	if fma != nil {
		pi.sustained1 = rate(fma, 300_000, 1) / 1e9
		pi.sustained = rate(fma, 300_000, pi.cores) / 1e9
	}
	pi.peak1 = float64(pi.fmaUnits*pi.lanes*2) * pi.clockGHz
	pi.peak = float64(pi.cores) * pi.peak1
	pi.note = fmt.Sprintf("peak = %d cores × %d FMA pipes × %d float32 lanes × 2 flops × %.2f GHz (clock measured with a dependent-add chain running on all cores at once; "+
		"Zen 5 server cores have two 512-bit FMA pipes); an FMA-only register loop sustains %.0f GFLOP/s on all cores (%.0f on one), i.e. %.2f FMA instructions per cycle per core",
		pi.cores, pi.fmaUnits, pi.lanes, pi.clockGHz, pi.sustained, pi.sustained1, pi.sustained/float64(pi.cores)/float64(2*pi.lanes)/pi.clockGHz)
	return pi
}
