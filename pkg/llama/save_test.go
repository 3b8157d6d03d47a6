package llama

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/safetensors"
)

func TestSaveRoundTrip(t *testing.T) {
	src := testutil.RepoRoot(t) + "/models/stories260K"
	m, err := Load(src, cpu.New32(1))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), cpu.Data[float32](m.Params)...)
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.BF16} {
		dir := filepath.Join(t.TempDir(), "out")
		// A tiny shard limit forces a sharded checkpoint with an index.
		if err := m.Save(dir, dt, 200_000, src); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"tokenizer.model", "LICENSE", "config.json", safetensors.IndexFileName} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", dt, err)
			}
		}
		m2, err := Load(dir, cpu.New32(1))
		if err != nil {
			t.Fatal(err)
		}
		got := cpu.Data[float32](m2.Params)
		for i := range want {
			w := want[i]
			if dt == safetensors.BF16 {
				w = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(w))
			}
			if got[i] != w {
				t.Fatalf("%s: parameter %d = %g, want %g", dt, i, got[i], w)
			}
		}
		if got, _ := WeightDType(dir); got != dt {
			t.Errorf("WeightDType = %s, want %s", got, dt)
		}
	}
}
