package scores

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestComputeMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	out, in, S := 8, 12, 4
	G, A := make([]float32, out*in), make([]float32, out*in)
	for i := range G {
		G[i] = float32(r.NormFloat64())
		A[i] = float32(math.Abs(r.NormFloat64())) + float32(math.Abs(float64(G[i])))
	}
	res := Compute(G, A, out, in, S)
	if len(res) != (out/S)*(in/S) {
		t.Fatalf("%d blocks", len(res))
	}
	for br := 0; br < out/S; br++ {
		for bc := 0; bc < in/S; bc++ {
			var vals, avals []float64
			for y := 0; y < S; y++ {
				for x := 0; x < S; x++ {
					vals = append(vals, float64(G[(br*S+y)*in+bc*S+x]))
					avals = append(avals, float64(A[(br*S+y)*in+bc*S+x]))
				}
			}
			var mabs, mean, l1, l2, ma float64
			for i, v := range vals {
				mabs += math.Abs(v) / float64(len(vals))
				mean += v / float64(len(vals))
				l1 += math.Abs(v)
				l2 += v * v
				ma += avals[i] / float64(len(vals))
			}
			want := [5]float64{mabs, math.Abs(mean), l1, math.Sqrt(l2), ma}
			got := res[br*(in/S)+bc]
			for k := range want {
				if math.Abs(float64(got[k])-want[k]) > 1e-5*math.Max(1, want[k]) {
					t.Errorf("block (%d,%d) %s = %g, want %g", br, bc, ScoreColumns[k], got[k], want[k])
				}
			}
		}
	}
}

func testMeta() Meta {
	return Meta{BlockSize: 4, Steps: 3, Tokens: 100, Targets: 40, Update: "none", ModelHash: "sha256:ab", DataHash: "sha256:cd",
		ModelParams2D: 1000, Shapes: map[string][2]int{"q": {8, 8}, "v": {4, 8}}, Layers: 2}
}

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "scores.arrow")
	blocks := []Block{
		{Tensor: "model.layers.0.self_attn.q_proj.weight", Layer: 0, Kind: "q", Row: 1, Col: 0, Scores: [5]float32{1, 2, 3, 4, 5}},
		{Tensor: "model.layers.0.self_attn.q_proj.weight", Layer: 0, Kind: "q", Row: 1, Col: 1, Scores: [5]float32{6, 7, 8, 9, 10}},
		{Tensor: "model.layers.1.self_attn.v_proj.weight", Layer: 1, Kind: "v", Row: 0, Col: 1, Scores: [5]float32{.1, .2, .3, .4, .5}},
	}
	if err := Write(p, testMeta(), blocks); err != nil {
		t.Fatal(err)
	}
	meta, got, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if meta.BlockSize != 4 || meta.Steps != 3 || meta.ModelParams2D != 1000 || meta.Shapes["v"] != [2]int{4, 8} || meta.ModelHash != "sha256:ab" {
		t.Fatalf("meta %+v", meta)
	}
	if len(got) != len(blocks) {
		t.Fatalf("%d blocks", len(got))
	}
	for i := range got {
		if got[i] != blocks[i] {
			t.Fatalf("block %d: %+v, want %+v", i, got[i], blocks[i])
		}
	}
	// A block outside its matrix is refused with the row named.
	bad := append(blocks, Block{Tensor: "x", Layer: 1, Kind: "v", Row: 1, Col: 0})
	Write(p, testMeta(), bad)
	if _, _, err := Read(p); err == nil || !strings.Contains(err.Error(), "row 3") {
		t.Fatalf("error %v", err)
	}
}

func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "s.arrow")
	Write(p, testMeta(), []Block{{Tensor: "t", Kind: "q", Row: 1, Col: 1, Scores: [5]float32{1, 2, 3, 4, 5}}})
	b, _ := os.ReadFile(p)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		q := filepath.Join(t.TempDir(), "x.arrow")
		os.WriteFile(q, data, 0o644)
		Read(q) // must not panic
	})
}
