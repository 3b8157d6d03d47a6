package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// benchTexts returns the instruction and output strings of the
// LLM-Adapters test sets.
func benchTexts(b *testing.B) []string {
	data := sharedData(b)
	files, err := filepath.Glob(filepath.Join(data, "llm-adapters", "dataset", "*", "test.json"))
	if err != nil || len(files) == 0 {
		b.Skipf("no LLM-Adapters test sets under %s", data)
	}
	var texts []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var recs []struct{ Instruction, Output string }
		if err := json.Unmarshal(raw, &recs); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		for _, r := range recs {
			texts = append(texts, r.Instruction, r.Output)
		}
	}
	return texts
}

func benchEncode(b *testing.B, tk *Tokenizer, texts []string) {
	var bytes int64
	for _, s := range texts {
		bytes += int64(len(s))
	}
	b.SetBytes(bytes)
	b.ResetTimer()
	var tokens int64
	var buf []int32
	for i := 0; i < b.N; i++ {
		for _, s := range texts {
			buf = tk.AppendEncode(buf[:0], s, EncodeOptions{})
			tokens += int64(len(buf))
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncodeLlama2 encodes the instruction+output strings of the
// LLM-Adapters test sets with the 32000-token LLaMA-2 tokenizer.model on
// one goroutine (the chunk cache warm after the first pass).
func BenchmarkEncodeLlama2(b *testing.B) {
	texts := benchTexts(b)
	tk := loadT(b, filepath.Join(sharedData(b), "llama2-tokenizer", "tokenizer.model"))
	benchEncode(b, tk, texts)
}

// BenchmarkEncodeLlama2NoCache is BenchmarkEncodeLlama2 with the chunk
// cache switched off: every chunk goes through the merge loop.
func BenchmarkEncodeLlama2NoCache(b *testing.B) {
	texts := benchTexts(b)
	tk := loadT(b, filepath.Join(sharedData(b), "llama2-tokenizer", "tokenizer.model"))
	tk.cache = nil
	benchEncode(b, tk, texts)
}

// BenchmarkEncodeLlama3 is the same for LLaMA-3's byte-level tokenizer
// (skipped unless the reference tokenizer.json is present).
func BenchmarkEncodeLlama3(b *testing.B) {
	texts := benchTexts(b)
	tk := loadT(b, filepath.Dir(refFile(b, "SMT_LLAMA3_TOKENIZER", "llama3/tokenizer.json")))
	benchEncode(b, tk, texts)
}

// BenchmarkLoadLlama2 measures loading tokenizer.model.
func BenchmarkLoadLlama2(b *testing.B) {
	p := filepath.Join(sharedData(b), "llama2-tokenizer", "tokenizer.model")
	for i := 0; i < b.N; i++ {
		loadT(b, p)
	}
}
