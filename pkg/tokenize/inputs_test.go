package tokenize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// shardsOf runs the stage on inputs and returns the examples of both
// splits.
func shardsOf(t *testing.T, tok *tokenizer.Tokenizer, inputs ...string) ([]example, []example) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "shards")
	runT(t, Options{Tokenizer: tok, Inputs: inputs, Out: out, MaxLen: 2048, EvalSplit: EvalSplit{Count: 200}, Seed: 3})
	return readSplit(t, out, TrainSplit), readSplit(t, out, EvalSplitName)
}

// TestInputForms: the real ARC-Easy file as gzip, as zstd, as JSON Lines
// and as zstd-compressed JSON Lines gives the same shards as the plain
// JSON array.
func TestInputForms(t *testing.T) {
	data := arcEasy(t)
	tok := loadTok(t, tokenizers(t)["llama2"])
	plain, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	enc, _ := zstd.NewWriter(nil)
	defer enc.Close()
	jsonl := filepath.Join(dir, "train.jsonl")
	writeDataset(t, jsonl, readRecords(t, data), true, nil)
	plainL, _ := os.ReadFile(jsonl)
	files := map[string][]byte{
		"train.json.gz":   gz.Bytes(),
		"train.json.zst":  enc.EncodeAll(plain, nil),
		"train.jsonl.zst": enc.EncodeAll(plainL, nil),
	}
	wantTrain, wantEval := shardsOf(t, tok, data)
	if len(wantEval) != 200 || len(wantTrain) != 2051 {
		t.Fatalf("splits of %d and %d", len(wantTrain), len(wantEval))
	}
	paths := []string{jsonl}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		train, eval := shardsOf(t, tok, p)
		if !reflect.DeepEqual(train, wantTrain) || !reflect.DeepEqual(eval, wantEval) {
			t.Errorf("%s: shards differ from the plain file's", filepath.Base(p))
		}
	}
}

// TestManifest: several inputs (record indices run on across files), and
// every field of the manifest and the shard metadata.
func TestManifest(t *testing.T) {
	easy := arcEasy(t)
	challenge := testutil.Shared(t, "llm-adapters/dataset/ARC-Challenge/train.json")
	tpath := tokenizers(t)["llama2"]
	tok := loadTok(t, tpath)
	out := filepath.Join(t.TempDir(), "shards")
	res := runT(t, Options{Tokenizer: tok, TokenizerPath: tpath, Template: "llm-adapters", Inputs: []string{easy, challenge}, Out: out,
		MaxLen: 256, Overflow: Drop, EvalSplit: EvalSplit{Fraction: 0.1}, Seed: 99, ShardRecords: 1000, Uncompressed: true})
	m, err := shards.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, res.Manifest) {
		t.Errorf("manifest.json differs from the result's manifest")
	}
	sum := func(p string) string {
		b, _ := os.ReadFile(p)
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:])
	}
	wantSources := []shards.Source{{Path: easy, SHA256: sum(easy), Records: 2251}, {Path: challenge, SHA256: sum(challenge), Records: 1119}}
	if !reflect.DeepEqual(m.Sources, wantSources) {
		t.Errorf("sources %+v, want %+v", m.Sources, wantSources)
	}
	wantTok := shards.TokenizerInfo{Path: tpath, Hash: tok.Hash(), VocabSize: 32000, BOS: 1, EOS: 2}
	if m.Format != shards.Format || m.Tokenizer != wantTok || m.Template != "llm-adapters" || m.MaxLen != 256 || m.Overflow != "drop" ||
		m.TrainOnInputs || m.EvalSplit != "0.1" || m.Seed != 99 || m.Created == "" {
		t.Errorf("manifest %+v", m)
	}
	c := m.Counts
	tr, ev := m.Splits[TrainSplit], m.Splits[EvalSplitName]
	if c.Records != 3370 || c.SkippedBad != 0 || c.Truncated != 0 || c.Records != tr.Records+ev.Records+c.Dropped || ev.Records < 250 || ev.Records > 420 {
		t.Errorf("counts %+v, train %d, eval %d", c, tr.Records, ev.Records)
	}
	if len(tr.Shards) != int((tr.Records+999)/1000) || tr.MaxLen > 256 {
		t.Errorf("train split %+v", tr)
	}
	// Records of the second file follow those of the first.
	challengeRecs := readRecords(t, challenge)
	exs := append(readSplit(t, out, TrainSplit), readSplit(t, out, EvalSplitName)...)
	var tokens, loss int64
	found := false
	for _, ex := range exs {
		tokens += int64(len(ex.IDs))
		loss += int64(bytes.Count(ex.Mask, []byte{1}))
		if ex.Record >= 2251 {
			found = true
			want := challengeRecs[ex.Record-2251].Instruction
			if got := tok.Decode(ex.IDs); !strings.Contains(got, want) {
				t.Fatalf("record %d is not ARC-Challenge record %d", ex.Record, ex.Record-2251)
			}
		}
	}
	if !found || tokens != tr.Tokens+ev.Tokens || loss != tr.LossTokens+ev.LossTokens {
		t.Errorf("tokens %d loss %d vs manifest %+v %+v", tokens, loss, tr, ev)
	}
	// Shard metadata.
	s, err := shards.OpenSplit(out, EvalSplitName)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	md := s.Metadata()
	want := map[string]string{"smt.format": shards.Format, "smt.split": "eval", "smt.tokenizer_hash": tok.Hash(), "smt.template": "llm-adapters", "smt.max_len": strconv.Itoa(256)}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
}

// TestWriteIDs: known SentencePiece ids of the LLaMA-2 tokenizer, BOS and
// special-token parsing options, and errors naming the line.
func TestWriteIDs(t *testing.T) {
	tok := loadTok(t, tokenizers(t)["llama2"])
	in := "\"Once upon a time\"\n\"Hello world\"\n\"\"\n\"<s> Below\"\n"
	cases := []struct {
		opts tokenizer.EncodeOptions
		want string
	}{
		{tokenizer.EncodeOptions{}, "9038 2501 263 931\n15043 3186\n\n529 29879 29958 13866\n"},
		{tokenizer.EncodeOptions{AddBOS: true}, "1 9038 2501 263 931\n1 15043 3186\n1\n1 529 29879 29958 13866\n"},
		{tokenizer.EncodeOptions{ParseSpecial: true}, "9038 2501 263 931\n15043 3186\n\n1 29871 13866\n"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if err := WriteIDs(context.Background(), strings.NewReader(in), &out, tok, c.opts); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("%+v: got\n%s\nwant\n%s", c.opts, out.String(), c.want)
		}
	}
	// No final newline, CRLF, a long line.
	long := strings.Repeat("ab ", 50000)
	var out bytes.Buffer
	if err := WriteIDs(context.Background(), strings.NewReader("\"Hello world\"\r\n\""+long+"\""), &out, tok, tokenizer.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 3 || lines[0] != "15043 3186" || len(strings.Fields(lines[1])) != len(tok.Encode(long, tokenizer.EncodeOptions{})) {
		t.Errorf("got %d lines, first %q", len(lines), lines[0])
	}
	for _, bad := range []struct{ in, want string }{
		{"\"a\"\nHello\n", "line 2"},
		{"\"a\"\n\n\"b\"\n", "line 2"},
		{"\"a\n", "line 1"},
		{"\"a\" \"b\"\n", "line 1"},
		{"\"\xff\"\n", "line 1: invalid UTF-8"},
	} {
		err := WriteIDs(context.Background(), strings.NewReader(bad.in), &out, tok, tokenizer.EncodeOptions{})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}
