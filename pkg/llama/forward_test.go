package llama

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/safetensors"
)

// fixtureBatch is one batch of testdata/<model>/expected.safetensors,
// written by testdata/gen_fixture.py with PyTorch (float64).
type fixtureBatch struct {
	B, T   int
	ids    []int32
	labels []int32
	logits []float32 // [B·T, V]
	loss   float64   // NaN when the batch has no counted label
}

func readFixture(t *testing.T, dir string) []fixtureBatch {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var shapes [][2]int
	if err := json.Unmarshal([]byte(f.Metadata()["batches"]), &shapes); err != nil {
		t.Fatal(err)
	}
	ints := func(name string) []int32 {
		v, err := f.Int64s(name)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out
	}
	var out []fixtureBatch
	for i, s := range shapes {
		p := fmt.Sprintf("b%d.", i)
		fb := fixtureBatch{B: s[0], T: s[1], ids: ints(p + "ids"), labels: ints(p + "labels"), loss: math.NaN()}
		if fb.logits, err = f.Float32(p + "logits"); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.Info(p + "loss"); ok {
			l, err := f.Float32(p + "loss")
			if err != nil {
				t.Fatal(err)
			}
			fb.loss = float64(l[0])
		}
		out = append(out, fb)
	}
	return out
}

// ShiftLabels turns Hugging Face labels [B, T] (−100 = masked) into
// per-position targets: position t predicts labels[t+1]; the last position
// of each sequence predicts nothing (−1).
func shiftLabels(labels []int32, B, T int) []int32 {
	tg := make([]int32, B*T)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			tg[b*T+t] = -1
			if t+1 < T && labels[b*T+t+1] >= 0 {
				tg[b*T+t] = labels[b*T+t+1]
			}
		}
	}
	return tg
}

// maxRelErr returns max |got−want| / scale with scale = max(|want|∞, 1e-3):
// the error relative to the magnitude of the logits.
func maxRelErr(got, want []float32) float64 {
	var scale, worst float64
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	scale = math.Max(scale, 1e-3)
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i])-float64(want[i])))
	}
	return worst / scale
}

func TestForwardMatchesPyTorch(t *testing.T) {
	backends := []struct {
		name string
		be   backend.Backend
		tol  float64
	}{
		{"f32", cpu.New32(0), 1e-4},
		// The fixture logits are float64 results rounded to float32.
		{"f64", cpu.New64(0), 1e-6},
	}
	for _, model := range []string{"tiny-gqa", "tiny-llama3"} {
		dir := filepath.Join("testdata", model)
		batches := readFixture(t, dir)
		for _, bk := range backends {
			m, err := Load(dir, bk.be)
			if err != nil {
				t.Fatal(err)
			}
			for _, fb := range batches {
				t.Run(fmt.Sprintf("%s/%s/B%dT%d", model, bk.name, fb.B, fb.T), func(t *testing.T) {
					a := m.NewActs(fb.B, fb.T, false)
					m.Forward(a, fb.ids)
					got := make([]float32, len(fb.logits))
					bk.be.Download(got, a.Logits)
					e := maxRelErr(got, fb.logits)
					t.Logf("logits max relative error %.3g", e)
					if e > bk.tol {
						t.Errorf("logits: max relative error %.3g > %.0g", e, bk.tol)
					}
					if math.IsNaN(fb.loss) {
						return
					}
					loss, n := m.Loss(a, shiftLabels(fb.labels, fb.B, fb.T), false)
					if n == 0 || math.Abs(loss-fb.loss) > bk.tol*math.Abs(fb.loss) {
						t.Errorf("loss %.8f (%d targets), PyTorch %.8f", loss, n, fb.loss)
					}
				})
			}
		}
	}
}

func TestLoadRejectsWrongShape(t *testing.T) {
	cfg, err := ReadConfig("testdata/tiny-gqa")
	if err != nil {
		t.Fatal(err)
	}
	cfg.IntermediateSize++ // the checkpoint's MLP tensors no longer fit
	r, err := safetensors.OpenModel("testdata/tiny-gqa")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = New(cfg, cpu.New32(1)).LoadWeights(r, "testdata/tiny-gqa")
	want := "tensor model.layers.0.mlp.gate_proj.weight has shape [96 64], expected [97 64]"
	if err == nil || !contains(err.Error(), want) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
	cfg, _ = ReadConfig("testdata/tiny-llama3")
	cfg.TieWordEmbeddings = false
	r2, _ := safetensors.OpenModel("testdata/tiny-llama3")
	defer r2.Close()
	err = New(cfg, cpu.New32(1)).LoadWeights(r2, "testdata/tiny-llama3")
	want = "tensor lm_head.weight is missing (config.json has tie_word_embeddings false); expected shape [61 48]"
	if err == nil || !contains(err.Error(), want) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
}

func contains(s, sub string) bool {
	return strings.Contains(s, sub)
}
