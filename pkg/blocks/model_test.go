package blocks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/blocks/blockstest"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/scores"
)

const storiesDir = "../../models/stories260K"

// configWith writes a copy of the stories260K config.json with some
// fields changed and returns its directory.
func configWith(t *testing.T, changes map[string]any) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(storiesDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		m[k] = v
	}
	dir := t.TempDir()
	b, _ = json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckModel(t *testing.T) {
	cfg, err := llama.ReadConfig(storiesDir)
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := blockstest.Scores(blockstest.Stories260K, 32, []string{"q", "k", "v"}, nil, 1)
	if err := CheckModel(sm, cfg); err != nil {
		t.Fatalf("matching model refused: %v", err)
	}
	other := func(changes map[string]any) *llama.Config {
		c, err := llama.ReadConfig(configWith(t, changes))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := []struct {
		name string
		edit func(m *scores.Meta)
		cfg  *llama.Config
		want string
	}{
		{"layers", nil, other(map[string]any{"num_hidden_layers": 6}), "the scores are for 5 layers, the model has num_hidden_layers 6"},
		{"shapes", nil, other(map[string]any{"num_key_value_heads": 8}), "k_proj is [32, 64] in the scores but [64, 64] in the model"},
		{"vocabulary", nil, other(map[string]any{"vocab_size": 1000}), "the scores count"},
		{"block size", func(m *scores.Meta) { m.BlockSize = 48 }, cfg, "block size 48 does not divide the model's q_proj [64, 64]"},
		{"mlp block size", func(m *scores.Meta) { m.Shapes["gate"] = [2]int{172, 64} }, cfg, "block size 32 does not divide the model's gate_proj [172, 64]"},
		{"kind", func(m *scores.Meta) { m.Shapes["embed"] = [2]int{512, 64} }, cfg, `shape for "embed"`},
	}
	for _, c := range cases {
		m := sm
		m.Shapes = map[string][2]int{}
		for k, v := range sm.Shapes {
			m.Shapes[k] = v
		}
		if c.edit != nil {
			c.edit(&m)
		}
		err := CheckModel(m, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
