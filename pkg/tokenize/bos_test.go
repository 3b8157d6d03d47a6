package tokenize

import (
	"encoding/json"
	"testing"

	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// llama3Split is LLaMA-3's published pre-tokenizer pattern.
const llama3Split = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// byteLevelTokenizer builds a minimal LLaMA-3-like byte-level tokenizer:
// one piece per byte, no merges, <|begin_of_text|> added by the
// post-processor, <|end_of_text|> as EOS. Its BOS is not "<s>".
func byteLevelTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	// GPT-2's byte-to-character map: printable bytes map to themselves, the
	// others to U+0100 onwards.
	vocab := map[string]int{}
	next := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) {
			vocab[string(rune(b))] = b
		} else {
			vocab[string(rune(256+next))] = b
			next++
		}
	}
	doc := map[string]any{
		"added_tokens": []map[string]any{
			{"id": 256, "content": "<|begin_of_text|>", "special": true},
			{"id": 257, "content": "<|end_of_text|>", "special": true},
		},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Split}, "behavior": "Isolated"},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}},
			"special_tokens": map[string]any{"<|begin_of_text|>": map[string]any{"id": "<|begin_of_text|>", "ids": []int{256}}}},
		"decoder": map[string]any{"type": "ByteLevel"},
		"model":   map[string]any{"type": "BPE", "vocab": vocab, "merges": []any{}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.ParseTokenizerJSON(b, "tiny-llama3.json")
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 256 || tok.EOS() != 257 || !tok.AddsBOS() {
		t.Fatalf("test tokenizer: bos %d eos %d adds %v", tok.BOS(), tok.EOS(), tok.AddsBOS())
	}
	return tok
}

// TestResolveBOS: the BOS rule for tokenizers whose BOS is "<s>" (the real
// LLaMA-2 and stories260K ones) and for one whose BOS is something else.
func TestResolveBOS(t *testing.T) {
	smt, _ := prompt.Get("smt")
	la, _ := prompt.Get("llm-adapters")
	llama2 := loadTok(t, tokenizers(t)["llama2"])
	bl := byteLevelTokenizer(t)
	cases := []struct {
		name  string
		tok   *tokenizer.Tokenizer
		tmpl  prompt.Template
		mode  BOSMode
		parse bool
		want  bool
	}{
		{"llama2 smt", llama2, smt, BOSAuto, true, false},
		{"llama2 smt literal", llama2, smt, BOSAuto, false, true},
		{"llama2 llm-adapters", llama2, la, BOSAuto, true, true},
		{"llama2 smt yes", llama2, smt, BOSYes, true, true},
		{"llama2 llm-adapters no", llama2, la, BOSNo, true, false},
		{"byte-level smt", bl, smt, BOSAuto, true, true},
		{"byte-level llm-adapters", bl, la, BOSAuto, true, true},
	}
	for _, c := range cases {
		if got, why := ResolveBOS(c.tok, c.tmpl, c.mode, c.parse); got != c.want || why == "" {
			t.Errorf("%s: %v (%s), want %v", c.name, got, why, c.want)
		}
	}
	// With the byte-level tokenizer the smt example starts with its BOS,
	// then the literal "<s> " as text, and ends with its EOS.
	enc, err := NewEncoder(bl, smt, EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var ex shards.Example
	enc.Encode(prompt.Record{Instruction: "i", Output: "o"}, &ex)
	if ex.IDs[0] != 256 || bl.Decode(ex.IDs[1:5]) != "<s> " || ex.IDs[len(ex.IDs)-1] != 257 {
		t.Errorf("byte-level smt example %v", ex.IDs)
	}
	// With the LLaMA-2 tokenizer the literal "<s>" is the only BOS.
	enc, _ = NewEncoder(llama2, smt, EncoderConfig{})
	enc.Encode(prompt.Record{Instruction: "i", Output: "o"}, &ex)
	if ex.IDs[0] != 1 || ex.IDs[1] != 29871 || ex.IDs[2] != 13866 {
		t.Errorf("llama2 smt example starts %v, want 1 29871 13866", ex.IDs[:3])
	}
}
