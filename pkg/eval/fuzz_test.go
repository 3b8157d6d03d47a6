package eval

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseTestJSON: the test-set reader never panics, and every error is a
// *FormatError naming the file with a line inside the data.
func FuzzParseTestJSON(f *testing.F) {
	f.Add([]byte(`[{"instruction":"q","input":"","output":"o","answer":"a"}]`))
	f.Add([]byte(`[{"instruction":"q","answer":12.5},{"instruction":"r","answer":"b","x":null}]`))
	f.Add([]byte("[\n{\"instruction\": \"a\",, \"answer\": \"b\"}\n]"))
	f.Add([]byte(`[null, "x", 1, []]`))
	f.Add([]byte(`{"instruction":"q"}`))
	f.Add([]byte(`[] []`))
	f.Add([]byte("\xff[\"\\ud800\"]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ParseTestJSON(data, "fuzz/test.json")
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			if fe.File != "fuzz/test.json" || !strings.Contains(err.Error(), "fuzz/test.json") {
				t.Fatalf("error %q does not name the file", err)
			}
			if fe.Line < 1 || fe.Line > bytes.Count(data, []byte{'\n'})+1 {
				t.Fatalf("line %d outside the data (%d lines): %v", fe.Line, bytes.Count(data, []byte{'\n'})+1, err)
			}
			return
		}
		for i, r := range recs {
			if r.Instruction == "" || r.Answer == "" {
				t.Fatalf("record %d accepted without instruction or answer: %+v", i, r)
			}
		}
	})
}

// FuzzResume: Resume never panics; on success the file is cut to whole
// lines, a second Resume agrees and changes nothing, and appending works; on
// error the file is untouched and the error names the file and a line.
func FuzzResume(f *testing.F) {
	f.Add([]byte(`{"task":"boolq","id":0,"prompt":"p","generation":"g","prediction":"true","gold":"true","correct":true}` + "\n"))
	f.Add([]byte(`{"task":"boolq","id":0}` + "\n" + `{"task":"boolq","id":1,"gen`))
	f.Add([]byte(`{"task":"a","id":0}` + "\n" + `{"task":"a","id":0}` + "\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"task":"a","id":-1}` + "\nxx"))
	f.Add([]byte("\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "p.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Resume(path)
		after, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != path || fe.Line < 1 || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v does not name the file and a line", err)
			}
			if !bytes.Equal(after, data) {
				t.Fatal("file changed although Resume failed")
			}
			return
		}
		valid := bytes.LastIndexByte(data, '\n') + 1
		if !bytes.Equal(after, data[:valid]) {
			t.Fatalf("file is %q, want %q", after, data[:valid])
		}
		if c.Len() != bytes.Count(after, []byte{'\n'}) {
			t.Fatalf("%d predictions from %d lines", c.Len(), bytes.Count(after, []byte{'\n'}))
		}
		c2, err := Resume(path)
		if err != nil || c2.Len() != c.Len() {
			t.Fatalf("second Resume: %v, %d vs %d", err, c2.Len(), c.Len())
		}
		w, done, err := OpenPredictions(path)
		if err != nil {
			t.Fatal(err)
		}
		next := 0
		for done.Has("fuzz", next) {
			next++
		}
		if err := w.Write(Prediction{Task: "fuzz", ID: next}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		c3, err := Resume(path)
		if err != nil || c3.Len() != c.Len()+1 || !c3.Has("fuzz", next) {
			t.Fatalf("after append: %v", err)
		}
	})
}

// FuzzParseHellaSwag: the HellaSwag text reader never panics and its errors
// name the file.
func FuzzParseHellaSwag(f *testing.F) {
	f.Add([]byte(hsItem))
	f.Add([]byte(hsItem + "Ctx: x\n9\n"))
	f.Add([]byte("a\r\nb\r\n"))
	task, err := Lookup("hellaswag")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ParseHellaSwag(bytes.NewReader(data), "hs.txt")
		if err != nil {
			if !strings.Contains(err.Error(), "hs.txt") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range recs {
			if _, ok := task.Score(r.Output, r.Answer); !ok {
				t.Fatalf("record %+v does not score its own output", r)
			}
		}
	})
}
