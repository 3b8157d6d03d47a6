// Package testshards builds token shards from real LLM-Adapters data for
// tests of the training stages, without going through the tokenize
// binary: each record rendered with the SMT template and tokenized with
// the stories260K tokenizer, prompt tokens masked.
package testshards

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// Build writes a shard directory from the first nTrain + nEval records of
// the shared LLM-Adapters file rel (e.g. "llm-adapters/dataset/ARC-Easy/train.json"):
// the first nTrain into the train split, the next nEval into the eval
// split (none when nEval is 0). Records longer than maxLen tokens are
// skipped. It skips the test when the shared data is absent.
func Build(t testing.TB, rel string, nTrain, nEval, maxLen int) string {
	t.Helper()
	b, err := os.ReadFile(testutil.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var recs []prompt.Record
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(testutil.RepoRoot(t) + "/models/stories260K")
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := prompt.Get("smt")
	dir := t.TempDir()
	man := &shards.Manifest{Splits: map[string]shards.SplitInfo{}}
	i := 0
	for _, split := range []struct {
		name string
		n    int
	}{{"train", nTrain}, {"eval", nEval}} {
		if split.n == 0 {
			continue
		}
		w := shards.NewWriter(dir, split.name, shards.WriterOptions{})
		for kept := 0; kept < split.n && i < len(recs); i++ {
			src, tgt := tpl.Train(recs[i])
			opts := tokenizer.EncodeOptions{ParseSpecial: true}
			sid := tok.Encode(src, opts)
			all := append(tok.Encode(src+tgt, opts), tok.EOS())
			if len(all) > maxLen {
				continue
			}
			ex := shards.Example{Record: int64(i), IDs: all, Mask: make([]uint8, len(all))}
			for j := len(sid); j < len(all); j++ {
				ex.Mask[j] = 1
			}
			if err := w.Write(&ex); err != nil {
				t.Fatal(err)
			}
			kept++
		}
		info, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		man.Splits[split.name] = info
	}
	if err := shards.WriteManifest(dir, man); err != nil {
		t.Fatal(err)
	}
	return dir
}
