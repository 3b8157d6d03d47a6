package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
)

const good = `{"instruction": "i", "input": "", "output": "o", "answer": "a"}`

// TestBadRecords: each kind of malformed record is an *Error naming the
// file, the record and its line; it is skippable, and the reader goes on
// with the next record.
func TestBadRecords(t *testing.T) {
	cases := []struct {
		name, bad string
		class     error
		detail    string
	}{
		{"missing instruction", `{"input": "", "output": "o"}`, ErrMissingField, `"instruction"`},
		{"missing output", `{"instruction": "i", "answer": "a"}`, ErrMissingField, `"output"`},
		{"null output", `{"instruction": "i", "output": null}`, ErrMissingField, `"output"`},
		{"number output", `{"instruction": "i", "output": 42}`, ErrNotString, `"output" is a number`},
		{"array input", `{"instruction": "i", "input": ["x"], "output": "o"}`, ErrNotString, `"input" is an array`},
		{"object answer", `{"instruction": "i", "output": "o", "answer": {"a": 1}}`, ErrNotString, `"answer" is an object`},
		{"bool instruction", `{"instruction": true, "output": "o"}`, ErrNotString, `"instruction" is a boolean`},
		{"invalid UTF-8", "{\"instruction\": \"caf\xe9\", \"output\": \"o\"}", ErrInvalidUTF8, "at byte 20"},
		{"number element", `12`, ErrNotObject, "found a number"},
		{"string element", `"text"`, ErrNotObject, "found a string"},
		{"array element", `[1, 2]`, ErrNotObject, "found an array"},
		{"null element", `null`, ErrNotObject, "found null"},
		{"gsm8k without answer", `{"question": "q"}`, ErrMissingField, `"answer"`},
	}
	for _, c := range cases {
		for _, layout := range []string{"json", "jsonl"} {
			t.Run(c.name+"/"+layout, func(t *testing.T) {
				var text string
				var line int64
				if layout == "json" {
					// Records 0 and 1 good, 2 bad (on line 5), 3 good.
					text = "[\n" + good + ",\n" + good + ",\n\n" + c.bad + ",\n" + good + "\n]\n"
					line = 5
				} else {
					text = good + "\n" + good + "\n\n" + c.bad + "\n" + good + "\n"
					line = 4
				}
				name := "data/bad." + layout
				recs, bad, err := readString(t, name, text, true)
				if err != nil {
					t.Fatalf("with skipping: %v", err)
				}
				if len(recs) != 3 || len(bad) != 1 || recs[2].Index != 3 {
					t.Fatalf("%d records, %d bad; indices %v", len(recs), len(bad), recs)
				}
				checkErr(t, bad[0], name, 2, line, c.class, c.detail)
				if !IsSkippable(bad[0]) {
					t.Error("not skippable")
				}
				// Without skipping, the caller stops at the first error.
				_, _, err = readString(t, name, text, false)
				checkErr(t, err, name, 2, line, c.class, c.detail)
			})
		}
	}
}

// checkErr checks that err is an *Error of class naming file, record and
// line.
func checkErr(t *testing.T, err error, file string, record, line int64, class error, detail string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *dataset.Error", err, err)
	}
	if e.File != file || e.Record != record || e.Line != line || !errors.Is(err, class) {
		t.Errorf("error %q: file %q record %d line %d, want %q %d %d and class %q", err, e.File, e.Record, e.Line, file, record, line, class)
	}
	msg := err.Error()
	where := fmt.Sprintf("record %d (line %d)", record, line)
	if record < 0 {
		where = fmt.Sprintf("line %d", line)
		if line == 0 {
			where = file + ": "
		}
	}
	if !strings.Contains(msg, file) || !strings.Contains(msg, where) || !strings.Contains(msg, detail) {
		t.Errorf("message %q should name %q, %q and %q", msg, file, where, detail)
	}
}

// TestFatalErrors: faults that stop the reader. Each names the file and
// the record (or line) and is returned again by later calls; skipping
// does not get past them.
func TestFatalErrors(t *testing.T) {
	cases := []struct {
		name, text    string
		record, line  int64
		class         error
		detail        string
		recordsBefore int
	}{
		{"truncated inside record", "[\n" + good + ",\n" + good + ",\n{\"instruction\": \"i\", \"outp", 2, 4, ErrTruncated, "truncated", 2},
		{"truncated after comma", "[\n" + good + ",\n", 1, 3, ErrTruncated, "truncated", 1},
		{"missing closing bracket", "[\n" + good + "\n", 1, 3, ErrTruncated, "truncated", 1},
		{"syntax error in record", "[\n" + good + ",\n{\"instruction\": \"i\",\n \"output\" \"o\"}\n]", 1, 3, ErrSyntax, "at line 4", 1},
		{"missing comma", "[\n" + good + "\n" + good + "\n]", 1, 3, ErrSyntax, "invalid", 1},
		{"data after array", "[\n" + good + "\n]\n\n]", -1, 5, ErrSyntax, "after the closing", 1},
		{"second array", "[" + good + "] [" + good + "]", -1, 1, ErrSyntax, "after the closing", 1},
		{"empty file", "", -1, 0, ErrEmpty, "no records", 0},
		{"only spaces", " \n\t\n", -1, 0, ErrEmpty, "no records", 0},
		{"empty array", " [ ]\n", -1, 0, ErrEmpty, "no records", 0},
		{"not JSON", "instruction,output\na,b\n", -1, 0, ErrLayout, "not a JSON array", 0},
		{"top-level string", `"hello"`, -1, 0, ErrLayout, "not a JSON array", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(c.text), "f.json", Options{})
			recs, _, err := readAll(t, r, true)
			if len(recs) != c.recordsBefore {
				t.Errorf("%d records before the error, want %d", len(recs), c.recordsBefore)
			}
			checkErr(t, err, "f.json", c.record, c.line, c.class, c.detail)
			if IsSkippable(err) {
				t.Error("fatal error is skippable")
			}
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("next call: %v, want the same error", err2)
			}
		})
	}
}

// TestJSONLBadLines: a JSON Lines line that is not valid JSON (including a
// truncated last line) is a skippable bad record.
func TestJSONLBadLines(t *testing.T) {
	text := good + "\n{\"instruction\": \"i\" \"output\": \"o\"}\n" + good + "\n" + `{"instruction": "i", "out`
	recs, bad, err := readString(t, "f.jsonl", text, true)
	if err != nil || len(recs) != 2 || len(bad) != 2 {
		t.Fatalf("records %d, bad %d, err %v", len(recs), len(bad), err)
	}
	checkErr(t, bad[0], "f.jsonl", 1, 2, ErrSyntax, "invalid character")
	checkErr(t, bad[1], "f.jsonl", 3, 4, ErrTruncated, "line ends inside")
	// Only bad lines: the reader ends normally; the caller sees no records.
	recs, bad, err = readString(t, "f.jsonl", "{\n}}\n", true)
	if err != nil || len(recs) != 0 || len(bad) != 2 {
		t.Errorf("records %d, bad %d, err %v", len(recs), len(bad), err)
	}
}

// TestTruncatedCompressed: a cut .gz or .zst file is a truncation error
// naming the file, whatever the JSON parser had reached.
func TestTruncatedCompressed(t *testing.T) {
	src := testutil.Shared(t, "llm-adapters/dataset/ARC-Easy/train.json")
	plain, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"cut.json.gz": gzipBytes(t, plain), "cut.json.zst": zstdBytes(t, plain)} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b[:len(b)*2/3], 0o644)
		r, err := Open(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := readAll(t, r, true)
		r.Close()
		var e *Error
		if !errors.As(err, &e) || e.File != p || !errors.Is(err, ErrTruncated) || IsSkippable(err) || len(recs) == 0 {
			t.Errorf("%s: %d records, error %v", name, len(recs), err)
		}
		if e != nil && (e.Record != int64(len(recs)) || e.Line == 0) {
			t.Errorf("%s: error at record %d line %d after %d records", name, e.Record, e.Line, len(recs))
		}
	}
	// A file named .gz that is not gzip data.
	p := filepath.Join(dir, "plain.json.gz")
	os.WriteFile(p, []byte("{}\n"), 0o644)
	r, _ := Open(p, Options{})
	defer r.Close()
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("plain text named .gz: %v", err)
	}
}

// TestOpenMissing: a missing file is an error naming it.
func TestOpenMissing(t *testing.T) {
	_, err := Open("/nonexistent/train.json", Options{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/train.json") {
		t.Errorf("Open: %v", err)
	}
}
