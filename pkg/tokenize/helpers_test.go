package tokenize

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/dataset"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// tokenizers are the real tokenizers the tests run with: the embedded
// stories260K model directory (512-piece SentencePiece BPE) and the
// 32000-piece LLaMA-2 tokenizer.model.
func tokenizers(t testing.TB) map[string]string {
	return map[string]string{
		"stories260K": filepath.Join(testutil.RepoRoot(t), "models", "stories260K"),
		"llama2":      testutil.Shared(t, "llama2-tokenizer/tokenizer.model"),
	}
}

func loadTok(t testing.TB, path string) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// arcEasy is the real ARC-Easy train set (2251 records).
func arcEasy(t testing.TB) string {
	return testutil.Shared(t, "llm-adapters/dataset/ARC-Easy/train.json")
}

// readRecords reads every record of a dataset file.
func readRecords(t testing.TB, path string) []prompt.Record {
	t.Helper()
	r, err := dataset.Open(path, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []prompt.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec.Record)
	}
}

// writeDataset writes recs as a JSON array (or JSON Lines) to path; the
// records whose index is in replace are written as the given raw text.
func writeDataset(t testing.TB, path string, recs []prompt.Record, jsonl bool, replace map[int]string) {
	t.Helper()
	var buf bytes.Buffer
	if !jsonl {
		buf.WriteString("[\n")
	}
	for i, r := range recs {
		if i > 0 && !jsonl {
			buf.WriteString(",\n")
		}
		if raw, ok := replace[i]; ok {
			buf.WriteString(raw)
		} else {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
		}
		if jsonl {
			buf.WriteByte('\n')
		}
	}
	if !jsonl {
		buf.WriteString("\n]\n")
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// example is a copy of a shard example.
type example struct {
	Record int64
	IDs    []int32
	Mask   []uint8
}

// readSplit reads every example of a split.
func readSplit(t testing.TB, dir, split string) []example {
	t.Helper()
	s, err := shards.OpenSplit(dir, split)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := make([]example, s.Len())
	for i := range out {
		ex := s.Get(i)
		out[i] = example{ex.Record, slices.Clone(ex.IDs), slices.Clone(ex.Mask)}
	}
	return out
}

// runT calls Run with defaults filled in and fails the test on error.
func runT(t testing.TB, opt Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// leftovers lists the entries of dir whose name contains ".tmp".
func leftovers(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

// exampleBuf holds an example for Encoder.Encode.
type exampleBuf struct{ shards.Example }
