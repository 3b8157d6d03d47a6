package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func storiesModel(t testing.TB) *Tokenizer {
	t.Helper()
	return loadT(t, filepath.Join("testdata", "stories260K.tokenizer.model"))
}

func llama2(t testing.TB) *Tokenizer {
	t.Helper()
	return loadT(t, filepath.Join(sharedData(t), "llama2-tokenizer", "tokenizer.model"))
}

// TestSMTPrompt pins down the ids of SMT's training prompt. The reference
// renders "<s> Below is ..." and tokenizes it with Hugging Face's
// LlamaTokenizer (add_bos_token=False, legacy): "<s>" becomes BOS and the
// text after it gets its own dummy prefix, so " Below" is "▁▁Below",
// which SentencePiece splits into "▁" (29871) + "▁Below" (13866).
// transformers.js gives the same (hf_llama2.json.gz, smt_prompt_*).
func TestSMTPrompt(t *testing.T) {
	tk := llama2(t)
	prompt := "<s> Below is an instruction that describes a task."
	got := tk.Encode(prompt, EncodeOptions{ParseSpecial: true})
	want := []int32{1, 29871, 13866, 338, 385, 15278, 393, 16612, 263, 3414, 29889}
	if !slices.Equal(got, want) {
		t.Errorf("ParseSpecial: got %v, want %v", got, want)
	}
	// Without ParseSpecial, "<s>" is text, as in SentencePiece.
	if got := tk.Encode("<s> Below", EncodeOptions{}); !slices.Equal(got, []int32{529, 29879, 29958, 13866}) {
		t.Errorf("plain: got %v", got)
	}
	// "</s>" at the end of the target is EOS.
	if got := tk.Encode("true</s>", EncodeOptions{ParseSpecial: true}); !slices.Equal(got, []int32{1565, 2}) {
		t.Errorf("EOS: got %v", got)
	}
	// Decoding skips BOS and drops the one dummy-prefix space.
	if got := tk.Decode([]int32{1, 29871, 13866}); got != " Below" {
		t.Errorf("Decode = %q", got)
	}
	if got := tk.DecodeWith([]int32{1, 29871, 13866}, DecodeOptions{Special: true}); got != "<s>  Below" {
		t.Errorf("DecodeWith(Special) = %q", got)
	}
}

func TestBasics(t *testing.T) {
	tk := llama2(t)
	if tk.VocabSize() != 32000 || tk.BOS() != 1 || tk.EOS() != 2 || tk.Unk() != 0 || tk.Pad() != -1 {
		t.Errorf("vocab %d bos %d eos %d unk %d pad %d", tk.VocabSize(), tk.BOS(), tk.EOS(), tk.Unk(), tk.Pad())
	}
	if tk.Kind() != KindSentencePiece || !tk.AddsBOS() || tk.AddsEOS() || !tk.Legacy() {
		t.Errorf("kind %v addBOS %v addEOS %v legacy %v", tk.Kind(), tk.AddsBOS(), tk.AddsEOS(), tk.Legacy())
	}
	for id, want := range map[int32]string{0: "<unk>", 1: "<s>", 13: "<0x0A>", 9038: "▁Once", 29871: "▁", 32000: "", -1: ""} {
		if got := tk.Piece(id); got != want {
			t.Errorf("Piece(%d) = %q, want %q", id, got, want)
		}
	}
	if tk.PieceType(1) != Control || tk.PieceType(13) != Byte || tk.PieceType(0) != Unknown || tk.PieceType(9038) != Normal {
		t.Error("piece types")
	}
	if id, ok := tk.ID("▁Once"); !ok || id != 9038 {
		t.Errorf("ID(▁Once) = %d %v", id, ok)
	}
	if got := tk.Encode("Once upon a time", EncodeOptions{AddBOS: true, AddEOS: true}); !slices.Equal(got, []int32{1, 9038, 2501, 263, 931, 2}) {
		t.Errorf("BOS/EOS: %v", got)
	}
	if got := tk.Encode("Hello world", tk.DefaultOptions()); !slices.Equal(got, []int32{1, 15043, 3186}) {
		t.Errorf("DefaultOptions: %v", got)
	}
	if string(tk.TokenBytes(13)) != "\n" || string(tk.TokenBytes(9038)) != " Once" || tk.TokenBytes(1) != nil {
		t.Error("TokenBytes")
	}
	bin := loadT(t, filepath.Join(sharedData(t), "llama2-tokenizer", "tokenizer.bin"))
	if bin.Hash() != tk.Hash() {
		t.Errorf("tokenizer.bin hash %s != tokenizer.model hash %s", bin.Hash(), tk.Hash())
	}
	if len(tk.Hash()) != 64 || tk.Hash() == storiesModel(t).Hash() {
		t.Errorf("hash %q", tk.Hash())
	}
}

// TestChunkingAgrees checks that encoding chunk by chunk (with the cache)
// gives the same ids as one merge loop over the whole text.
func TestChunkingAgrees(t *testing.T) {
	for _, tk := range []*Tokenizer{llama2(t), storiesModel(t)} {
		if !tk.m.chunkable {
			t.Fatalf("%s: expected a chunkable vocabulary", tk.Source())
		}
		whole := loadT(t, tk.Source())
		whole.m.chunkable = false
		whole.cache = nil
		for _, s := range append(splitCases, "a  b   c    d", "  x  ", "\u2581\u2581a\u2581 b", strings.Repeat("the cat ", 50)) {
			a, b := tk.Encode(s, EncodeOptions{}), whole.Encode(s, EncodeOptions{})
			if !slices.Equal(a, b) {
				t.Errorf("%q: chunked %v, whole %v", s, a, b)
			}
		}
	}
}

func TestStreamDecoder(t *testing.T) {
	tk := llama2(t)
	text := "Héllo 😀 wörld 日本語\n\ttab"
	ids := tk.Encode(text, EncodeOptions{AddBOS: true})
	d := tk.NewStreamDecoder()
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(d.Next(id))
	}
	sb.WriteString(d.Flush())
	if sb.String() != text {
		t.Errorf("streamed %q, want %q", sb.String(), text)
	}
	// llama2.c rule: the space of the first piece after BOS is dropped.
	if got := string(tk.DecodePiece(1, 9038)); got != "Once" {
		t.Errorf("DecodePiece(BOS, ▁Once) = %q", got)
	}
	if got := string(tk.DecodePiece(9038, 2501)); got != " upon" {
		t.Errorf("DecodePiece = %q", got)
	}
	if got := tk.DecodePiece(9038, 3+0xF0); len(got) != 1 || got[0] != 0xF0 {
		t.Errorf("byte piece = %v", got)
	}
	// An incomplete sequence is flushed as U+FFFD.
	d = tk.NewStreamDecoder()
	if s := d.Next(3 + 0xE2); s != "" {
		t.Errorf("partial emitted %q", s)
	}
	if s := d.Flush(); s != "\uFFFD" {
		t.Errorf("Flush = %q", s)
	}
}

func TestLoadDirConfig(t *testing.T) {
	dir := t.TempDir()
	model, err := os.ReadFile(filepath.Join("testdata", "stories260K.tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tokenizer.model", string(model))
	write("tokenizer_config.json", `{"add_bos_token": false, "add_eos_token": true, "legacy": false,
		"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
		"added_tokens_decoder": {"1": {"content": "<s>", "special": true}, "512": {"content": "[PAD]", "special": true}}}`)
	write("special_tokens_map.json", `{"pad_token": "[PAD]"}`)
	write("config.json", `{"bos_token_id": 1, "eos_token_id": [2]}`)
	tk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tk.AddsBOS() || !tk.AddsEOS() || tk.Legacy() || tk.VocabSize() != 513 || tk.Pad() != 512 {
		t.Errorf("addBOS %v addEOS %v legacy %v vocab %d pad %d", tk.AddsBOS(), tk.AddsEOS(), tk.Legacy(), tk.VocabSize(), tk.Pad())
	}
	ref := storiesModel(t)
	below := ref.Encode("Below", EncodeOptions{})
	// legacy=false: text after a special token gets no dummy prefix.
	want := append(append([]int32{1}, below...), 512, 2)
	if got := tk.Encode("<s> Below[PAD]", tk.DefaultOptions()); !slices.Equal(got, want) {
		t.Errorf("legacy=false: got %v, want %v", got, want)
	}
	if tk.Hash() == ref.Hash() {
		t.Error("config did not change the hash")
	}
	if got := tk.DecodeWith([]int32{1, 512}, DecodeOptions{Special: true}); got != "<s>[PAD]" {
		t.Errorf("decode added: %q", got)
	}
	// A bad config names the file.
	write("tokenizer_config.json", `{"bos_token": "<nope>"}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") || !strings.Contains(err.Error(), "<nope>") {
		t.Errorf("bad bos_token: %v", err)
	}
}

// tinyByteLevelJSON builds a small LLaMA-3-style tokenizer.json: the 256
// byte characters, a few merges, two special tokens.
func tinyByteLevelJSON(t testing.TB) []byte {
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(byteToRune[b])] = b
	}
	merges := [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}, {"Ġwor", "l"}, {"Ġworl", "d"}, {"Ġ", "Ġ"}, {"1", "2"}}
	for _, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			vocab[m[0]+m[1]] = len(vocab)
		}
	}
	vocab["ĠĠĠ"] = len(vocab) // reachable only through ignore_merges
	n := len(vocab)
	doc := map[string]any{
		"version": "1.0",
		"added_tokens": []map[string]any{
			{"id": n, "content": "<|begin_of_text|>", "special": true},
			{"id": n + 1, "content": "<|eot_id|>", "special": true},
		},
		"normalizer": nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "Sequence", "processors": []any{
			map[string]any{"type": "ByteLevel"},
			map[string]any{"type": "TemplateProcessing", "single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
			}, "special_tokens": map[string]any{"<|begin_of_text|>": map[string]any{"id": "<|begin_of_text|>", "ids": []int{n}}}},
		}},
		"decoder": map[string]any{"type": "ByteLevel"},
		"model":   map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": true, "byte_fallback": false},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestByteLevelTiny(t *testing.T) {
	tk, err := ParseTokenizerJSON(tinyByteLevelJSON(t), "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	id := func(p string) int32 {
		v, ok := tk.ID(p)
		if !ok {
			t.Fatalf("no piece %q", p)
		}
		return v
	}
	if tk.Kind() != KindByteLevel || !tk.AddsBOS() || tk.BOS() != id("<|begin_of_text|>") {
		t.Fatalf("kind %v addBOS %v bos %d", tk.Kind(), tk.AddsBOS(), tk.BOS())
	}
	got := tk.Encode("hello the world12  x   <|eot_id|>", EncodeOptions{ParseSpecial: true, AddBOS: true})
	// "  x" splits as " " + " x"; the final "   " is one word, in the
	// vocabulary as a whole (ignore_merges), though merges would give ĠĠ+Ġ.
	want := []int32{tk.BOS(), id("hello"), id("Ġthe"), id("Ġworld"), id("12"), id("Ġ"), id("Ġ"), id("x"), id("ĠĠĠ"), id("<|eot_id|>")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, s := range []string{"", "hello", "héllo wörld 😀\n\n  x", "\x00\xff", "<|eot_id|>"} {
		ids := tk.Encode(s, EncodeOptions{})
		if dec := tk.Decode(ids); dec != strings.ToValidUTF8(s, "\uFFFD") {
			t.Errorf("round trip %q: %v → %q", s, ids, dec)
		}
	}
	if got := tk.DecodeWith(want, DecodeOptions{Special: true}); got != "<|begin_of_text|>hello the world12  x   <|eot_id|>" {
		t.Errorf("DecodeWith(Special) = %q", got)
	}
	if got := tk.Decode([]int32{id("Ġworld"), -5, 99999}); got != " world" {
		t.Errorf("decode with bad ids: %q", got)
	}
}

func TestUTF8Lossy(t *testing.T) {
	for in, want := range map[string]string{
		"a\xe2\x82b":          "a\uFFFDb",
		"\xf0\x9f\x98":        "\uFFFD",
		"\xff\xfe":            "\uFFFD\uFFFD",
		"\xed\xa0\x80":        "\uFFFD\uFFFD\uFFFD",
		"\xe0\x80\x80":        "\uFFFD\uFFFD\uFFFD",
		"ok \xf4\x90\x80\x80": "ok \uFFFD\uFFFD\uFFFD\uFFFD",
		"\xc3":                "\uFFFD",
	} {
		if got := string(appendUTF8Lossy(nil, []byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func TestMarshalOnlySentencePiece(t *testing.T) {
	tk, err := ParseTokenizerJSON(tinyByteLevelJSON(t), "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.MarshalSentencePiece(); err == nil {
		t.Error("byte-level tokenizer written as tokenizer.model")
	}
	sp := storiesModel(t)
	var sb strings.Builder
	if err := WriteSentencePieceModel(&sb, sp); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.model")
	if err := SaveSentencePieceModel(path, sp); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != sb.String() {
		t.Error("SaveSentencePieceModel and WriteSentencePieceModel differ")
	}
}

func ExampleTokenizer_Encode() {
	tk, err := Load("testdata/stories260K.tokenizer.model")
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tk.Encode("Once upon a time", EncodeOptions{AddBOS: true})
	fmt.Println(ids, tk.Decode(ids))
	// Output: [1 403 407 261 378] Once upon a time
}

// TestConcurrentEncode encodes from several goroutines at once (run with
// -race): the scratch pool and the chunk cache are shared.
func TestConcurrentEncode(t *testing.T) {
	tk := storiesModel(t)
	texts := append([]string(nil), splitCases...)
	for i := range 200 {
		texts = append(texts, fmt.Sprintf("Story %d: the cat sat on the mat and said %q.", i, strings.Repeat("meow ", i%7)))
	}
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = tk.Encode(s, EncodeOptions{ParseSpecial: true})
	}
	fresh := storiesModel(t)
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for k := range texts {
				i := (k*7 + g*13) % len(texts)
				if got := fresh.Encode(texts[i], EncodeOptions{ParseSpecial: true}); !slices.Equal(got, want[i]) {
					done <- fmt.Errorf("%q: got %v, want %v", texts[i], got, want[i])
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
