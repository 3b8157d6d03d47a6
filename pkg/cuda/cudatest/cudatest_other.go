//go:build !(linux && (amd64 || arm64))

// Package cudatest builds and drives stand-in CUDA libraries for tests that
// run without a GPU. They need Linux (amd64 or arm64); elsewhere Open and
// Build skip the test.
package cudatest

import (
	"testing"

	"github.com/smt-go/smt/pkg/cuda"
)

// Build skips: the stand-ins need Linux.
func Build(t testing.TB) string {
	t.Skip("the stand-in CUDA libraries need linux/amd64 or linux/arm64")
	return ""
}

// StandIn drives the loaded stand-in libraries.
type StandIn struct{ Dir string }

// Open skips: the stand-ins need Linux.
func Open(t testing.TB) *StandIn { Build(t); return nil }

// Options are the load options that find the stand-ins.
func (s *StandIn) Options() cuda.LoadOptions { return cuda.LoadOptions{} }

// Reset starts a new log.
func (s *StandIn) Reset(t testing.TB) {}

// Setup sets the stand-in driver's device count and CUDA version.
func (s *StandIn) Setup(t testing.TB, devices, version int) {}

// Fail makes the next call of fn in lib return code.
func (s *StandIn) Fail(t testing.TB, lib, fn string, code int) {}

// Call is one logged call.
type Call struct {
	Fn   string
	Args map[string]string
	Line string
}

// Int returns an integer argument.
func (c Call) Int(key string) int64 { return 0 }

// Float returns a floating-point argument.
func (c Call) Float(key string) float64 { return 0 }

// Calls returns the logged calls.
func (s *StandIn) Calls(t testing.TB) []Call { return nil }

// Find returns the logged calls of fn.
func (s *StandIn) Find(t testing.TB, fn string) []Call { return nil }

// Problems returns the log lines that report a misuse.
func (s *StandIn) Problems(t testing.TB) []string { return nil }
