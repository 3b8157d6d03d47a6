package tokenize

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// TestShardsDecodeToText runs the stage on the real ARC-Easy train set
// with both tokenizers and the smt and llm-adapters templates, then checks
// every example of the shards: its ids decode to exactly the rendered
// prompt + response text, it starts with BOS and ends with EOS, its prompt
// part is tokens(source), and its loss mask is 1 on exactly the response
// tokens and EOS.
func TestShardsDecodeToText(t *testing.T) {
	data := arcEasy(t)
	recs := readRecords(t, data)
	for tname, tpath := range tokenizers(t) {
		tok := loadTok(t, tpath)
		for _, tmplName := range []string{"smt", "llm-adapters"} {
			t.Run(tname+"/"+tmplName, func(t *testing.T) {
				tmpl, _ := prompt.Get(tmplName)
				out := filepath.Join(t.TempDir(), "shards")
				res := runT(t, Options{Tokenizer: tok, TokenizerPath: tpath, Template: tmplName, Inputs: []string{data}, Out: out,
					MaxLen: 2048, EvalSplit: EvalSplit{Fraction: 0.2}, Seed: 7})
				exs := append(readSplit(t, out, TrainSplit), readSplit(t, out, EvalSplitName)...)
				if len(exs) != len(recs) || res.Kept() != int64(len(recs)) {
					t.Fatalf("%d examples (kept %d), want %d", len(exs), res.Kept(), len(recs))
				}
				seen := make([]bool, len(recs))
				var loss int64
				for _, ex := range exs {
					if seen[ex.Record] {
						t.Fatalf("record %d twice", ex.Record)
					}
					seen[ex.Record] = true
					source, target := tmpl.Train(recs[ex.Record])
					text := source + target
					if tmplName == "smt" {
						// The literal "<s>" is the BOS token, which Decode skips.
						text = strings.TrimPrefix(source, "<s>") + target
					}
					if got := tok.Decode(ex.IDs); got != text {
						t.Fatalf("record %d decodes to\n%q\nwant\n%q", ex.Record, got, text)
					}
					n := len(ex.IDs)
					if ex.IDs[0] != tok.BOS() || ex.IDs[n-1] != tok.EOS() || slices.Contains(ex.IDs[1:], tok.BOS()) {
						t.Fatalf("record %d: BOS/EOS misplaced: %v", ex.Record, ex.IDs)
					}
					src := tok.Encode(source, tokenizer.EncodeOptions{ParseSpecial: true, AddBOS: tmplName != "smt"})
					for i, m := range ex.Mask {
						if want := uint8(0); i >= len(src) {
							want = 1
							if m != want {
								t.Fatalf("record %d: mask[%d] = %d, want %d (prompt %d tokens of %d)", ex.Record, i, m, want, len(src), n)
							}
						} else if m != want {
							t.Fatalf("record %d: mask[%d] = %d, want %d (prompt %d tokens of %d)", ex.Record, i, m, want, len(src), n)
						}
					}
					if tmplName == "smt" {
						// The SMT prompt ends in "\n": the prompt tokens are a prefix of
						// the full tokens and the masked part is exactly the response.
						if !slices.Equal(ex.IDs[:len(src)], src) {
							t.Fatalf("record %d: prompt tokens are not a prefix", ex.Record)
						}
						if got := tok.Decode(ex.IDs[len(src):]); got != target {
							t.Fatalf("record %d: loss tokens decode to %q, want %q", ex.Record, got, target)
						}
					}
					loss += int64(n - len(src))
				}
				if res.LossTokens() != loss {
					t.Errorf("manifest counts %d loss tokens, examples %d", res.LossTokens(), loss)
				}
			})
		}
	}
}

// TestJointTokenization checks the reference's rule on real data: with
// the smt template tokens(source) is a prefix of tokens(source+target) for
// every record of every LLM-Adapters file, with both tokenizers; with
// llm-adapters it is not (the 16 spaces that end its prompt merge with the
// response), and the mask still covers len(tokens(source)) positions, as
// the reference's does. Tokenizing the parts separately differs from the
// joint rule (the response gets its own dummy-prefix space), which is why
// it is not used.
func TestJointTokenization(t *testing.T) {
	all := llmAdaptersFiles(t)
	if testing.Short() {
		all = []string{arcEasy(t)}
	}
	var allRecs, easyRecs []prompt.Record
	for _, f := range all {
		allRecs = append(allRecs, readRecords(t, f)...)
	}
	easyRecs = readRecords(t, arcEasy(t))
	for tname, tpath := range tokenizers(t) {
		tok := loadTok(t, tpath)
		for _, name := range []string{"smt", "llm-adapters"} {
			recs := allRecs
			if name != "smt" {
				recs = easyRecs
			}
			tmpl, _ := prompt.Get(name)
			enc, err := NewEncoder(tok, tmpl, EncoderConfig{})
			if err != nil {
				t.Fatal(err)
			}
			opts := enc.EncodeOptions()
			var notPrefix, separateDiffers int
			var ex exampleBuf
			for i, rec := range recs {
				source, target := tmpl.Train(rec)
				_, promptLen := enc.Encode(rec, &ex.Example)
				full := tok.Encode(source+target, opts)
				src := tok.Encode(source, opts)
				if promptLen != len(src) || !slices.Equal(ex.IDs, append(full, tok.EOS())) {
					t.Fatalf("%s %s record %d: Encode differs from tokens(source+target)+EOS", tname, name, i)
				}
				if zeros := slices.Index(ex.Mask[1:], 1) + 1; zeros != len(src) {
					t.Fatalf("%s %s record %d: %d masked positions, want len(tokens(source)) = %d", tname, name, i, zeros, len(src))
				}
				if !slices.Equal(full[:len(src)], src) {
					notPrefix++
				}
				sep := append(slices.Clone(src), tok.Encode(target, tokenizer.EncodeOptions{ParseSpecial: true})...)
				if !slices.Equal(sep, full) {
					separateDiffers++
				}
			}
			t.Logf("%s %s: tokens(source) not a prefix in %d of %d records; separate tokenization differs in %d", tname, name, notPrefix, len(recs), separateDiffers)
			switch {
			case name == "smt" && notPrefix != 0:
				t.Errorf("%s smt: tokens(source) is not a prefix of the full tokens in %d records", tname, notPrefix)
			case name == "llm-adapters" && notPrefix == 0:
				t.Errorf("%s llm-adapters: expected prompts whose last tokens merge with the response", tname)
			}
			if separateDiffers < len(recs)/2 {
				t.Errorf("%s %s: separate tokenization differs in only %d records", tname, name, separateDiffers)
			}
		}
	}
}
