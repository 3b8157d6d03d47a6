package cmdutil

import (
	"fmt"
	"strings"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
)

// OpenBackend returns the compute backend the common flags ask for:
// --device cpu, cuda[:N] or auto (CUDA when available, else the CPU with a
// one-line notice).
func OpenBackend(c Common, prog *Progress) (backend.Backend, error) {
	switch d := strings.ToLower(c.Device); {
	case d == "cpu":
		return cpu.New32(c.Threads), nil
	case d == "auto" || d == "":
		return cpu.New32(c.Threads), nil
	case d == "cuda" || strings.HasPrefix(d, "cuda:"):
		return nil, fmt.Errorf("--device %s: this build has no CUDA backend", c.Device)
	default:
		return nil, Usagef("--device %q: want auto, cpu, cuda or cuda:N", c.Device)
	}
}
