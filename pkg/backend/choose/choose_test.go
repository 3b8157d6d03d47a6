package choose

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	cu "github.com/smt-go/smt/pkg/cuda"
)

func TestOpen(t *testing.T) {
	be, err := Open("cpu", 2)
	if err != nil || be.DType() != backend.F32 || !strings.HasPrefix(be.Name(), "cpu") {
		t.Fatalf("cpu: %v, %v", be, err)
	}
	if err := Close(be); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"tpu", "cuda:x", "cuda:-1"} {
		if _, err := Open(bad, 1); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	var notice bytes.Buffer
	be, err = OpenWithNotice("auto", 1, &notice)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(be)
	if strings.HasPrefix(be.Name(), "cpu") {
		if os.Getenv("SMT_CUDA_TESTS") == "gpu" {
			t.Fatalf("auto chose the CPU on a GPU machine: %s", notice.String())
		}
		// No GPU here: one line saying why.
		if lines := strings.Split(strings.TrimSpace(notice.String()), "\n"); len(lines) != 1 || !strings.HasSuffix(lines[0], "; using the CPU") {
			t.Errorf("notice %q", notice.String())
		}
		if _, err := Open("cuda:0", 1); err == nil || !strings.HasPrefix(err.Error(), "device cuda:0: ") {
			t.Errorf("cuda:0 without a GPU: %v", err)
		}
	} else if notice.Len() != 0 {
		t.Errorf("notice with a GPU: %q", notice.String())
	}
}

func TestReason(t *testing.T) {
	nf := &cu.NotFoundError{Library: "libcuda.so.1", Sonames: []string{"libcuda.so.1"}, Searched: []string{"/a", "/b"}}
	if got := Reason(nf); got != "no libcuda.so.1 found" {
		t.Errorf("Reason = %q", got)
	}
	e := &cu.Error{Lib: "cuda", Call: "cuInit(0)", Code: 100, Name: "CUDA_ERROR_NO_DEVICE", Desc: "no CUDA-capable device is detected"}
	if got := Reason(e); got != "cuInit(0): CUDA_ERROR_NO_DEVICE" {
		t.Errorf("Reason = %q", got)
	}
	if got := Reason(errors.New("cuda: the driver (x) sees no CUDA device")); got != "the driver (x) sees no CUDA device" {
		t.Errorf("Reason = %q", got)
	}
}
