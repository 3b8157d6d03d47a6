package cmdutil

import (
	"bytes"
	"strings"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/choose"
)

// OpenBackend returns the compute backend the common flags ask for:
// --device cpu, cuda[:N] or auto (CUDA when available, else the CPU with a
// one-line notice through prog). An unknown device name is a usage error.
func OpenBackend(c Common, prog *Progress) (backend.Backend, error) {
	var notice bytes.Buffer
	be, err := choose.OpenWithNotice(c.Device, c.Threads, &notice)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown device") {
			return nil, UsageError{Err: err}
		}
		return nil, err
	}
	if n := strings.TrimSpace(notice.String()); n != "" {
		prog.Event("device", n, map[string]any{"device": "cpu"})
	}
	prog.Event("device", "device: "+be.Name(), map[string]any{"backend": be.Name()})
	return be, nil
}
