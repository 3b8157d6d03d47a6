//go:build !amd64

package main

// probes has no assembly probes on this architecture.
func probes() (clock func(n int) float64, fma func(n int) float64, lanes int, ok bool) {
	return nil, nil, 4, false
}
