package tokenize

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// llmAdaptersFiles returns every LLM-Adapters dataset file in the shared
// data (train and test sets of all tasks, and math_data.json).
func llmAdaptersFiles(tb testing.TB) []string {
	data := testutil.SharedData(tb)
	files, err := filepath.Glob(filepath.Join(data, "llm-adapters", "dataset", "*", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Skip("no LLM-Adapters files")
	}
	return append(files, filepath.Join(data, "llm-adapters", "ft-training_set", "math_data.json"))
}

// BenchmarkTokenizeLLMAdapters runs the whole stage (read JSON, render the
// SMT template, tokenize with the LLaMA-2 tokenizer on every core, write
// zstd shards and the manifest) over all LLM-Adapters files in the shared
// data, and reports the tokens written per second.
func BenchmarkTokenizeLLMAdapters(b *testing.B) {
	files := llmAdaptersFiles(b)
	tok, err := tokenizer.Load(testutil.Shared(b, "llama2-tokenizer/tokenizer.model"))
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "shards")
	var tokens int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), Options{Tokenizer: tok, Inputs: files, Out: out, MaxLen: 2048, EvalSplit: EvalSplit{Fraction: 0.2}, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		tokens += res.Tokens()
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}
