package llama

import (
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend/cpu"
)

func loadStories(t *testing.T) *Model {
	t.Helper()
	dir := testutil.RepoRoot(t) + "/models/stories260K"
	m, err := Load(dir, cpu.New32(0))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The first ten greedy tokens after BOS, as recorded for llama2.c's run.c
// in the shared data's SOURCES.md.
func TestStoriesFirstGreedyTokens(t *testing.T) {
	m := loadStories(t)
	g := m.NewGenerator(1, 64)
	out, err := g.Generate([][]int32{{1}}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298}
	if len(out[0]) != len(want) {
		t.Fatalf("got %v, want %v", out[0], want)
	}
	for i := range want {
		if out[0][i] != want[i] {
			t.Fatalf("got %v, want %v", out[0], want)
		}
	}
}

// Batched generation of prompts of different lengths (left padding, masked)
// must give the same tokens as generating each prompt alone.
func TestBatchedGenerationMatchesSingle(t *testing.T) {
	m := loadStories(t)
	prompts := [][]int32{{1}, {1, 403, 407, 261}, {1, 300, 301}, {1, 500, 20, 30, 40, 50, 60, 70}}
	batch, err := m.NewGenerator(len(prompts), 64).Generate(prompts, 24, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		one, err := m.NewGenerator(1, 64).Generate([][]int32{p}, 24, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0]) != len(batch[i]) {
			t.Fatalf("prompt %d: alone %v, batched %v", i, one[0], batch[i])
		}
		for j := range one[0] {
			if one[0][j] != batch[i][j] {
				t.Fatalf("prompt %d: alone %v, batched %v", i, one[0], batch[i])
			}
		}
	}
}
