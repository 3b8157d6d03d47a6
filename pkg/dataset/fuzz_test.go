package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzRead reads data to the end, skipping bad records, and checks the
// invariants every reader must keep: no panic, termination, increasing
// indices and lines, valid UTF-8 in every accepted record, and errors that
// are *Error values naming the file.
func fuzzRead(t *testing.T, data []byte, name string, format Format) (recs []Record, clean bool) {
	r := NewReader(bytes.NewReader(data), name, Options{Format: format})
	defer r.Close()
	clean = true
	lastIdx, lastLine := int64(-1), int64(0)
	for steps := 0; ; steps++ {
		if steps > len(data)+2 {
			t.Fatalf("no end after %d calls", steps)
		}
		rec, err := r.Next()
		if err == io.EOF {
			if r.SHA256() == "" {
				t.Fatal("no hash at EOF")
			}
			return recs, clean
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != name {
				t.Fatalf("error %v (%T) does not name the file", err, err)
			}
			clean = false
			if e.Skippable() {
				if e.Record <= lastIdx {
					t.Fatalf("bad record index %d after %d", e.Record, lastIdx)
				}
				lastIdx = e.Record
				continue
			}
			if _, again := r.Next(); again != err {
				t.Fatalf("fatal error not sticky: %v then %v", err, again)
			}
			return recs, false
		}
		for _, s := range []string{rec.Instruction, rec.Input, rec.Output, rec.Answer} {
			if !utf8.ValidString(s) {
				t.Fatalf("record %d: invalid UTF-8 %q", rec.Index, s)
			}
		}
		if rec.Index <= lastIdx || rec.Line < lastLine || rec.Line < 1 {
			t.Fatalf("record index %d line %d after index %d line %d", rec.Index, rec.Line, lastIdx, lastLine)
		}
		lastIdx, lastLine = rec.Index, rec.Line
		recs = append(recs, rec)
	}
}

// FuzzReadJSON feeds arbitrary bytes to the JSON array reader. When it
// reads a file without any error, encoding/json must agree that the file is
// an array of that many objects.
func FuzzReadJSON(f *testing.F) {
	f.Add([]byte(`[{"instruction":"a","input":"","output":"b","answer":"c"}]`))
	f.Add([]byte("[\n {\"instruction\": \"a\\u00e9\", \"output\": \"\"},\n {\"question\": \"q\", \"answer\": \"r #### 4\"}\n]\n"))
	f.Add([]byte(`[{"instruction":1,"output":"b"}, 3, "x", null, {"output":"b"}]`))
	f.Add([]byte("[{\"instruction\":\"\xff\",\"output\":\"b\"}]"))
	f.Add([]byte(`[{"instruction":"a","output":"b"}`))
	f.Add([]byte(`[] []`))
	f.Add([]byte("\xef\xbb\xbf[]"))
	f.Add([]byte(`[{"instruction":"\ud83d\u0041\n\"x\"","inp\u0075t":"\ud800\udc00","output":"\\","answer":"\/"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, clean := fuzzRead(t, data, "fuzz.json", FormatJSON)
		if !clean {
			return
		}
		var objs []map[string]any
		if err := json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &objs); err != nil || len(objs) != len(recs) {
			t.Fatalf("reader accepted %d records; encoding/json: %d, %v", len(recs), len(objs), err)
		}
		for i, obj := range objs {
			checkSame(t, recs[i], obj)
		}
	})
}

// FuzzReadJSONL feeds arbitrary bytes to the JSON Lines reader. When it
// reads without any error, every non-blank line must be a JSON object.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte("{\"instruction\":\"a\",\"output\":\"b\"}\n{\"question\":\"q\",\"answer\":\"#### 1\"}\n"))
	f.Add([]byte("\n\r\n{\"instruction\":\"a\",\"input\":null,\"output\":\"b\",\"answer\":\"c\"}"))
	f.Add([]byte("{\"instruction\":\"a\"}\n[1]\n{\"instruction\":\"\xc3\",\"output\":\"\"}\n{\"instr"))
	f.Add([]byte("{} {}\n"))
	f.Add([]byte(`{"instruction":"a\tb\u00e9\udc00","output":"\"q\"","\u0061nswer":"x"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, clean := fuzzRead(t, data, "fuzz.jsonl", FormatJSONL)
		if !clean {
			return
		}
		lines := 0
		for _, l := range bytes.Split(bytes.TrimPrefix(data, utf8BOM), []byte("\n")) {
			l = bytes.TrimSpace(l)
			if len(l) == 0 {
				continue
			}
			var obj map[string]any
			if err := json.Unmarshal(l, &obj); err != nil || obj == nil || lines >= len(recs) {
				t.Fatalf("accepted line %q: %v", l, err)
			}
			checkSame(t, recs[lines], obj)
			lines++
		}
		if lines != len(recs) {
			t.Fatalf("reader accepted %d records of %d lines", len(recs), lines)
		}
	})
}

// checkSame compares a record with encoding/json's reading of the same
// object.
func checkSame(t *testing.T, rec Record, obj map[string]any) {
	t.Helper()
	str := func(k string) string { s, _ := obj[k].(string); return s }
	want := Record{Index: rec.Index, Line: rec.Line}
	if _, ok := obj["instruction"]; !ok && obj["question"] != nil {
		want.Instruction, want.Output = str("question"), str("answer")
		if i := strings.LastIndex(want.Output, "####"); i >= 0 {
			want.Answer = strings.TrimSpace(want.Output[i+4:])
		}
	} else {
		want.Instruction, want.Input, want.Output, want.Answer = str("instruction"), str("input"), str("output"), str("answer")
	}
	if rec != want {
		t.Fatalf("record %d = %+v, encoding/json reads %+v", rec.Index, rec, want)
	}
}
