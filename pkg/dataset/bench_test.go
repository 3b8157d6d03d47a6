package dataset

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
)

// BenchmarkReadLLMAdapters reads every LLM-Adapters dataset file of the
// shared data (about 18 MB of JSON arrays) record by record.
func BenchmarkReadLLMAdapters(b *testing.B) {
	data := testutil.SharedData(b)
	files, _ := filepath.Glob(filepath.Join(data, "llm-adapters", "dataset", "*", "*.json"))
	if len(files) == 0 {
		b.Skip("no LLM-Adapters files")
	}
	var size int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			r, err := Open(f, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := r.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
		}
	}
}
