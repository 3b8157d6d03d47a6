package tokenizer

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// storiesSPModel returns the parsed stories model for corruption tests.
func storiesSPModel(t testing.TB) *spModel {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stories260K.tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseSPModel(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBadSentencePiece(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "stories260K.tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data func() []byte
		want []string
	}{
		{"empty", func() []byte { return nil }, []string{"empty file"}},
		{"truncated", func() []byte { return good[:len(good)/2+3] }, []string{"bad.model"}},
		{"text", func() []byte { return []byte("hello world, not a model") }, []string{"bad.model"}},
		{"bad type", func() []byte { m := storiesSPModel(t); m.pieces[300].typ = 9; return m.marshal() }, []string{"pieces[300]", "invalid type 9"}},
		{"duplicate", func() []byte { m := storiesSPModel(t); m.pieces[301].piece = m.pieces[300].piece; return m.marshal() }, []string{"pieces[301]", "already defined as pieces[300]"}},
		{"bad byte piece", func() []byte { m := storiesSPModel(t); m.pieces[10].piece = "<0xZZ>"; return m.marshal() }, []string{"pieces[10]", "<0xZZ>"}},
		{"missing byte", func() []byte { m := storiesSPModel(t); m.pieces[10].typ = Normal; return m.marshal() }, []string{"<0x07> is missing"}},
		{"unigram", func() []byte { m := storiesSPModel(t); m.modelType = spModelUnigram; return m.marshal() }, []string{"model_type 1 UNIGRAM"}},
		{"no unk", func() []byte { m := storiesSPModel(t); m.pieces[0].typ = Normal; return m.marshal() }, []string{"no UNKNOWN piece"}},
		{"bos out of range", func() []byte { m := storiesSPModel(t); m.bosID = 9999; return m.marshal() }, []string{"bos_id 9999"}},
		{"charsmap", func() []byte { m := storiesSPModel(t); m.precompiledCharsmap = []byte{1, 2, 3}; return m.marshal() }, []string{"identity normalizer"}},
		{"empty piece", func() []byte { m := storiesSPModel(t); m.pieces[400].piece = ""; return m.marshal() }, []string{"pieces[400]", "empty piece"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSentencePiece(c.data(), "bad.model")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(c.want, "bad.model") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func llama2cBytes(tokens []string, maxLen int32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(maxLen))
	for i, s := range tokens {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(-float32(i)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestBadLlama2C(t *testing.T) {
	ok := llama2cBytes([]string{"<unk>", "\n<s>\n", "\n</s>\n", "a", "b", " a", "ab"}, 8)
	if tk, err := ParseLlama2C(ok, "ok.bin"); err != nil {
		t.Fatal(err)
	} else if got := tk.Encode("ab a", EncodeOptions{}); len(got) == 0 || tk.ByteFallback() {
		t.Errorf("encode %v, byte fallback %v", got, tk.ByteFallback())
	}
	neg := append([]byte(nil), ok...)
	binary.LittleEndian.PutUint32(neg[4+8+5+4:], uint32(0xFFFFFFF0)) // token 1 length
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"empty", nil, []string{"shorter than"}},
		{"max len", llama2cBytes([]string{"<unk>"}, 0), []string{"max_token_length 0"}},
		{"truncated header", ok[:len(ok)-4], []string{"token 6", "truncated header"}},
		{"truncated data", ok[:len(ok)-1], []string{"token 6", "runs past the end"}},
		{"truncated token", ok[:4+8+5+3], []string{"token 1", "truncated header"}},
		{"negative length", neg, []string{"token 1", "length -16"}},
		{"too long", llama2cBytes([]string{"<unk>", "abcdefghij"}, 8), []string{"token 1", "length 10"}},
		{"no unk", llama2cBytes([]string{"a", "b"}, 8), []string{"no <unk>"}},
		{"invalid utf8", llama2cBytes([]string{"<unk>", "\xff"}, 8), []string{"token 1", "not valid UTF-8"}},
		{"duplicate", llama2cBytes([]string{"<unk>", "ab", "ab"}, 8), []string{"pieces[2]", "already defined"}},
		{"some bytes", llama2cBytes([]string{"<unk>", "<0x00>"}, 8), []string{"<0x01> is missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLlama2C(c.data, "bad.bin")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(c.want, "bad.bin") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestBadTokenizerJSON(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		if err := json.Unmarshal(tinyByteLevelJSON(t), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	cases := []struct {
		name string
		edit func(m map[string]any)
		want []string
	}{
		{"merge piece", func(m map[string]any) { model(m)["merges"] = []any{"h e", "x ☃"} }, []string{"model.merges[1]", `"☃"`}},
		{"merge result", func(m map[string]any) { model(m)["merges"] = []any{"h e", "x y"} }, []string{"model.merges[1]", `merged piece "xy"`}},
		{"merge form", func(m map[string]any) { model(m)["merges"] = []any{"he"} }, []string{"model.merges[0]"}},
		{"model type", func(m map[string]any) { model(m)["type"] = "Unigram" }, []string{`model.type "Unigram"`}},
		{"no model", func(m map[string]any) { delete(m, "model") }, []string{"no model"}},
		{"regex", func(m map[string]any) {
			m["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": `\w+`}
		}, []string{"Split pattern", `\\w+`}},
		{"normalizer", func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFKC"} }, []string{"normalizer", "NFKC"}},
		{"added id", func(m map[string]any) { m["added_tokens"].([]any)[0].(map[string]any)["id"] = -3 }, []string{"added_tokens[0]", "id -3"}},
		{"added clash", func(m map[string]any) { m["added_tokens"].([]any)[0].(map[string]any)["id"] = 5 }, []string{"added_tokens[0]", "id 5"}},
		{"sparse", func(m map[string]any) { model(m)["vocab"].(map[string]any)["zz"] = 100000 }, []string{"not dense"}},
		{"vocab dup id", func(m map[string]any) { model(m)["vocab"].(map[string]any)["zz"] = 7 }, []string{"id 7"}},
		{"template", func(m map[string]any) {
			m["post_processor"].(map[string]any)["processors"].([]any)[1].(map[string]any)["single"].([]any)[0].(map[string]any)["SpecialToken"].(map[string]any)["id"] = "<nope>"
		}, []string{"post_processor", "<nope>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseTokenizerJSON(b, "bad.json")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(c.want, "bad.json") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := ParseTokenizerJSON([]byte(`{"model": `), "trunc.json"); err == nil || !strings.Contains(err.Error(), "trunc.json") {
		t.Errorf("truncated JSON: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.model")); err == nil {
		t.Error("missing file")
	}
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("empty dir: %v", err)
	}
	p := filepath.Join(dir, "weird")
	os.WriteFile(p, []byte("garbage"), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("garbage: %v", err)
	}
	// Sniffing: the stories model under another name.
	b, _ := os.ReadFile(filepath.Join("testdata", "stories260K.tokenizer.model"))
	os.WriteFile(p, b, 0o644)
	if tk, err := Load(p); err != nil || tk.VocabSize() != 512 {
		t.Errorf("sniffed model: %v", err)
	}
}

// fuzzStrings are seeds for the encoding fuzzers.
var fuzzStrings = []string{"", " ", "Hello world", "  two  spaces ", "<s> Below</s>", "日本語 😀👨‍👩‍👧", "a\u2581b", "\x00\t\r\n", "e\u0301\u0301", "1234567", "\uFFFD"}

func FuzzLoadSentencePiece(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "stories260K.tokenizer.model"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:100])
	m := storiesSPModel(f)
	m.pieces = m.pieces[:270]
	f.Add(m.marshal())
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseSentencePiece(data, "fuzz.model")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.model") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		exercise(t, tk)
		if b, err := tk.MarshalSentencePiece(); err != nil {
			t.Fatal(err)
		} else if back, err := ParseSentencePiece(b, "again"); err != nil {
			t.Fatalf("written model does not load: %v", err)
		} else if back.Hash() != tk.Hash() {
			t.Fatal("hash changed on write/read")
		}
	})
}

func FuzzLoadLlama2C(f *testing.F) {
	f.Add(llama2cBytes([]string{"<unk>", "\n<s>\n", "\n</s>\n", "a", "b", " a", "ab"}, 8))
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "data", "tinyllamas-stories260K", "tok512.bin")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseLlama2C(data, "fuzz.bin")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.bin") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		exercise(t, tk)
	})
}

func FuzzLoadTokenizerJSON(f *testing.F) {
	f.Add(tinyByteLevelJSON(f))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"<unk>":0,"a":1,"b":2,"ab":3,"▁":4,"▁a":5},"merges":["a b","▁ a"],"unk_token":"<unk>","byte_fallback":false,"fuse_unk":true},` +
		`"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},` +
		`"added_tokens":[{"id":0,"content":"<unk>","special":true}],"decoder":{"type":"Sequence","decoders":[{"type":"Strip","content":" ","start":1,"stop":0}]}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"▁":1,"▁a":2},"merges":[["▁","a"]]},"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseTokenizerJSON(data, "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		exercise(t, tk)
	})
}

// exercise runs a loaded tokenizer over the seed strings: no panics, ids
// in range, decoding works.
func exercise(t *testing.T, tk *Tokenizer) {
	for _, s := range fuzzStrings {
		for _, opts := range []EncodeOptions{{}, {ParseSpecial: true, AddBOS: true, AddEOS: true}} {
			ids := tk.Encode(s, opts)
			for _, id := range ids {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("Encode(%q) gave id %d out of range %d", s, id, tk.VocabSize())
				}
			}
			tk.Decode(ids)
			tk.DecodeWith(ids, DecodeOptions{Special: true})
			d := tk.NewStreamDecoder()
			for _, id := range ids {
				d.Next(id)
			}
			d.Flush()
		}
	}
	tk.Hash()
}

// FuzzEncodeDecode checks Decode(Encode(s)) == s for the SentencePiece
// tokenizers with byte fallback (stories260K always; LLaMA-2 when the
// shared data is present) and the tiny byte-level one. A literal "▁" in s
// comes back as a space, as in SentencePiece. It also checks that chunked,
// cached encoding equals one merge loop over the whole text.
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range fuzzStrings {
		f.Add(s)
	}
	sp := []*Tokenizer{storiesModel(f)}
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "data", "llama2-tokenizer", "tokenizer.model")); err == nil {
		tk, err := ParseSentencePiece(b, "llama2")
		if err != nil {
			f.Fatal(err)
		}
		sp = append(sp, tk)
	}
	var whole []*Tokenizer
	for _, tk := range sp {
		w, err := ParseSentencePiece(mustMarshal(f, tk), "whole")
		if err != nil {
			f.Fatal(err)
		}
		w.m.chunkable, w.cache = false, nil
		whole = append(whole, w)
	}
	bl, err := ParseTokenizerJSON(tinyByteLevelJSON(f), "tiny.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		for i, tk := range sp {
			ids := tk.Encode(s, EncodeOptions{})
			if got, want := tk.Decode(ids), strings.ReplaceAll(s, "\u2581", " "); got != want {
				t.Fatalf("%s: Decode(Encode(%q)) = %q (ids %v)", tk.Source(), s, got, ids)
			}
			if w := whole[i].Encode(s, EncodeOptions{}); !equalIDs(ids, w) {
				t.Fatalf("%s: %q chunked %v, whole %v", tk.Source(), s, ids, w)
			}
		}
		if got := bl.Decode(bl.Encode(s, EncodeOptions{})); got != s {
			t.Fatalf("byte-level: Decode(Encode(%q)) = %q", s, got)
		}
	})
}

func mustMarshal(t testing.TB, tk *Tokenizer) []byte {
	b, err := tk.MarshalSentencePiece()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
