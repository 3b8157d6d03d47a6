package heatmap

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/smt-go/smt/pkg/blocks"
	"github.com/smt-go/smt/pkg/blocks/blockstest"
)

func summary(t *testing.T, m blockstest.Model, S int, kinds []string, opt blocks.Options) *blocks.Summary {
	t.Helper()
	sm, sb := blockstest.Scores(m, S, kinds, map[string]float32{"v": 3, "q": 1.6, "gate": 1.2}, 1)
	res, err := blocks.Select(sm, sb, opt)
	if err != nil {
		t.Fatal(err)
	}
	return blocks.Summarize(res)
}

func budget(t *testing.T, s string) blocks.Budget {
	b, err := blocks.ParseBudget(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPictures draws the heat map for a 5-layer and a 32-layer model; set
// SMT_HEATMAP_DIR to keep the pictures for a look.
func TestPictures(t *testing.T) {
	cases := []struct {
		name  string
		s     *blocks.Summary
		minH  int
		kinds int
	}{
		{"stories260K", summary(t, blockstest.Stories260K, 32, []string{"q", "k", "v"},
			blocks.Options{Policy: blocks.PolicyAttn, Score: "mean_abs", Budget: budget(t, "12")}), 200, 3},
		{"llama7b", summary(t, blockstest.LLaMA7B, 256, []string{"q", "k", "v"},
			blocks.Options{Policy: blocks.PolicyAttn, Score: "mean_abs", Budget: budget(t, "0.84%")}), 500, 3},
		{"llama7b-mlp", summary(t, blockstest.LLaMA7B, 256, []string{"q", "k", "v", "o", "gate", "up", "down"},
			blocks.Options{Policy: blocks.PolicyAttnMLP, Score: "reference", Budget: budget(t, "0.84%"), MLPBudget: budget(t, "0.3%")}), 500, 7},
	}
	dir := os.Getenv("SMT_HEATMAP_DIR")
	var prev []byte
	for _, c := range cases {
		b, err := PNG(c.s)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", c.name, err)
		}
		if h, w := img.Bounds().Dy(), img.Bounds().Dx(); h < c.minH || w < 100*c.kinds {
			t.Errorf("%s: %d×%d pixels is too small", c.name, w, h)
		}
		again, _ := PNG(c.s)
		if !bytes.Equal(b, again) {
			t.Errorf("%s: the picture is not deterministic", c.name)
		}
		if bytes.Equal(b, prev) {
			t.Errorf("%s: same picture as the previous case", c.name)
		}
		prev = b
		if dir != "" {
			if err := os.WriteFile(filepath.Join(dir, c.name+".png"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestWriteAtomic(t *testing.T) {
	s := summary(t, blockstest.Stories260K, 32, []string{"q", "k", "v"},
		blocks.Options{Policy: blocks.PolicyAttn, Score: "mean_abs", Budget: budget(t, "all")})
	p := filepath.Join(t.TempDir(), "blocks.png")
	if err := Write(p, s, nil); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only blocks.png", len(ents))
	}
	if err := Write(filepath.Join(t.TempDir(), "missing", "x.png"), s, nil); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	if _, err := PNG(&blocks.Summary{}); err == nil {
		t.Fatal("an empty summary drew")
	}
}
