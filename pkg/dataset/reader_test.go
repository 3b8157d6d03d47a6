package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/prompt"
)

// readAll reads every record of r; bad records are skipped and returned
// as errors when skip is set.
func readAll(t testing.TB, r *Reader, skip bool) ([]Record, []error, error) {
	t.Helper()
	var recs []Record
	var bad []error
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, bad, nil
		}
		if err != nil {
			if skip && IsSkippable(err) {
				bad = append(bad, err)
				continue
			}
			return recs, bad, err
		}
		recs = append(recs, rec)
	}
}

// readString reads a dataset held in a string.
func readString(t testing.TB, name, text string, skip bool) ([]Record, []error, error) {
	t.Helper()
	r := NewReader(strings.NewReader(text), name, Options{})
	defer r.Close()
	return readAll(t, r, skip)
}

func readFile(t testing.TB, path string) ([]Record, *Reader) {
	t.Helper()
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	recs, _, err := readAll(t, r, false)
	if err != nil {
		t.Fatal(err)
	}
	return recs, r
}

// TestRealFiles reads the LLM-Adapters files and GSM8K: record counts and
// hashes as SOURCES.md lists them, and the first record's fields.
func TestRealFiles(t *testing.T) {
	data := testutil.SharedData(t)
	cases := []struct {
		path    string
		records int
		sha     string
		format  Format
	}{
		{"llm-adapters/dataset/ARC-Easy/train.json", 2251, "6a06cece3dec32f4", FormatJSON},
		{"llm-adapters/dataset/boolq/train.json", 9427, "5ccbaceebaddc697", FormatJSON},
		{"llm-adapters/dataset/openbookqa/train.json", 4957, "a1e094eeea01f70c", FormatJSON},
		{"llm-adapters/dataset/gsm8k/test.json", 1319, "2cc616a1e0b23ea1", FormatJSON},
		{"llm-adapters/ft-training_set/math_data.json", 3260, "1d06633b4db748b7", FormatJSON},
		{"gsm8k/train.jsonl", 7473, "17f347dc51477c50", FormatJSONL},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			recs, r := readFile(t, filepath.Join(data, c.path))
			if len(recs) != c.records || r.Records() != int64(c.records) || r.Good() != int64(c.records) {
				t.Errorf("%d records (Records %d, Good %d), want %d", len(recs), r.Records(), r.Good(), c.records)
			}
			if !strings.HasPrefix(r.SHA256(), c.sha) {
				t.Errorf("sha256 %s, want %s…", r.SHA256(), c.sha)
			}
			if r.Format() != c.format || r.Compression() != None {
				t.Errorf("format %v compression %v", r.Format(), r.Compression())
			}
			for i, rec := range recs {
				if rec.Index != int64(i) {
					t.Fatalf("record %d has index %d", i, rec.Index)
				}
				if i > 0 && rec.Line <= recs[i-1].Line {
					t.Fatalf("record %d on line %d after line %d", i, rec.Line, recs[i-1].Line)
				}
			}
		})
	}
	// The first ARC-Easy train record, as the file has it (6 lines per
	// record after the opening bracket).
	recs, _ := readFile(t, filepath.Join(data, "llm-adapters/dataset/ARC-Easy/train.json"))
	r0 := recs[0]
	if !strings.HasPrefix(r0.Instruction, "Please choose the correct answer to the question: Which factor will most likely cause a person to develop a fever?") ||
		r0.Input != "" || r0.Output != "the correct answer is answer2" || r0.Answer != "answer2" || r0.Line != 2 {
		t.Errorf("ARC-Easy record 0 = %+v", r0)
	}
	if last := recs[len(recs)-1]; last.Line != 2+6*2250 {
		t.Errorf("last record on line %d, want %d", last.Line, 2+6*2250)
	}
	// GSM8K: question → instruction, answer → output, final number → answer.
	recs, _ = readFile(t, filepath.Join(data, "gsm8k/train.jsonl"))
	g := recs[0]
	if !strings.HasPrefix(g.Instruction, "Natalia sold clips to 48 of her friends") || !strings.HasSuffix(g.Output, "#### 72") || g.Answer != "72" || g.Line != 1 {
		t.Errorf("GSM8K record 0 = %+v", g)
	}
	if recs[7472].Line != 7473 {
		t.Errorf("last GSM8K record on line %d", recs[7472].Line)
	}
}

// TestOptionalFields: input and answer may be absent, null or empty;
// output may be empty; extra keys are ignored; keys are case-sensitive.
func TestOptionalFields(t *testing.T) {
	text := `[
{"instruction": "a", "output": "b"},
{"instruction": "c", "input": null, "output": "", "answer": null, "extra": [1, {"x": 2}]},
{"instruction": "e", "input": "f", "output": "g", "answer": "h", "Instruction": 5}
]`
	recs, _, err := readString(t, "opt.json", text, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []prompt.Record{{Instruction: "a", Output: "b"}, {Instruction: "c"}, {Instruction: "e", Input: "f", Output: "g", Answer: "h"}}
	if len(recs) != len(want) {
		t.Fatalf("%d records", len(recs))
	}
	for i := range want {
		if recs[i].Record != want[i] || recs[i].Line != int64(i+2) {
			t.Errorf("record %d = %+v line %d, want %+v line %d", i, recs[i].Record, recs[i].Line, want[i], i+2)
		}
	}
}

// TestEscapes: JSON escapes decode; a lone surrogate becomes U+FFFD (valid
// UTF-8).
func TestEscapes(t *testing.T) {
	recs, _, err := readString(t, "esc.jsonl", `{"instruction": "tab\there \u00e9 \ud83d\ude00 \ud800", "output": "<\/s>"}`+"\n", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := recs[0].Instruction; got != "tab\there é 😀 \uFFFD" || recs[0].Output != "</s>" {
		t.Errorf("got %q %q", got, recs[0].Output)
	}
}

// TestLayouts: the same records as a JSON array, as JSON Lines (with blank
// and CRLF lines), with a byte order mark, and forced formats.
func TestLayouts(t *testing.T) {
	array := "[{\"instruction\":\"a\",\"output\":\"b\"},\n {\"instruction\":\"c\",\"input\":\"d\",\"output\":\"e\",\"answer\":\"f\"}]\n"
	lines := "\n{\"instruction\":\"a\",\"output\":\"b\"}\r\n\r\n  {\"instruction\":\"c\",\"input\":\"d\",\"output\":\"e\",\"answer\":\"f\"}"
	var ref []prompt.Record
	for _, text := range []string{array, lines, "\xef\xbb\xbf" + array, "\xef\xbb\xbf" + lines} {
		recs, _, err := readString(t, "x", text, false)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		var got []prompt.Record
		for _, r := range recs {
			got = append(got, r.Record)
		}
		if ref == nil {
			ref = got
			continue
		}
		if len(got) != len(ref) || got[0] != ref[0] || got[1] != ref[1] {
			t.Errorf("%q: %+v, want %+v", text, got, ref)
		}
	}
	recs, _, _ := readString(t, "l", lines, false)
	if recs[0].Line != 2 || recs[1].Line != 4 {
		t.Errorf("JSONL lines %d %d, want 2 4", recs[0].Line, recs[1].Line)
	}
	// Forcing JSON on JSON Lines is an error; forcing JSONL on an array makes
	// every line a bad record.
	r := NewReader(strings.NewReader(lines), "l", Options{Format: FormatJSON})
	if _, err := r.Next(); err == nil || !errors.Is(err, ErrLayout) {
		t.Errorf("forced JSON on JSON Lines: %v", err)
	}
	r = NewReader(strings.NewReader(array), "a", Options{Format: FormatJSONL})
	if _, err := r.Next(); !IsSkippable(err) {
		t.Errorf("forced JSONL on an array: %v", err)
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// TestCompressed: .gz and .zst copies of a real file (recognised by magic
// bytes, whatever their name) give the same records; the hash is of the
// compressed bytes.
func TestCompressed(t *testing.T) {
	src := testutil.Shared(t, "llm-adapters/dataset/ARC-Challenge/train.json")
	plain, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := readFile(t, src)
	dir := t.TempDir()
	files := map[string][]byte{
		"train.json.gz":  gzipBytes(t, plain),
		"train.json.zst": zstdBytes(t, plain),
		"noext-gzip":     gzipBytes(t, plain),
		"noext-zstd":     zstdBytes(t, plain),
	}
	// Two gzip members concatenated are one stream.
	half := len(plain) / 2
	files["members.json.gz"] = append(gzipBytes(t, plain[:half]), gzipBytes(t, plain[half:])...)
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, r := readFile(t, p)
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", name, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: record %d differs", name, i)
			}
		}
		if r.Compression() == None || r.BytesRead() != int64(len(b)) || r.Size() != int64(len(b)) {
			t.Errorf("%s: compression %v, read %d of %d bytes (size %d)", name, r.Compression(), r.BytesRead(), len(b), r.Size())
		}
	}
}

// TestUnquote compares the string decoder with encoding/json on escapes,
// surrogate pairs and broken surrogates.
func TestUnquote(t *testing.T) {
	for _, s := range []string{
		`""`, `"plain"`, `"a\nb\tc\r\"\\\/\b\f"`, `"\u00e9\u4e2d"`, `"\ud83d\ude00"`, `"\ud83d\u0041"`,
		`"\udc00x"`, `"\ud83d\ud83d\ude00"`, `"\ud83d"`, `"x\ud83d\\"`, `"\u0000"`, `"é\n"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, err := unquote([]byte(s))
		if err != nil || got != want {
			t.Errorf("unquote(%s) = %q, %v; want %q", s, got, err, want)
		}
	}
}
