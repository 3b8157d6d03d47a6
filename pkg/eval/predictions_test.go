package eval

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pred(task string, id int, correct bool) Prediction {
	return Prediction{Task: task, ID: id, Prompt: "<s> Q & A\n", Generation: "the correct answer is true", Prediction: "true", Gold: "true", Correct: correct}
}

func TestPredictionsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "predictions.jsonl")
	w, done, err := OpenPredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	if done.Len() != 0 {
		t.Fatalf("fresh file has %d done", done.Len())
	}
	if err := w.Write(pred("boolq", 0, true), pred("boolq", 1, false)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(pred("piqa", 0, true)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	wantLine := `{"task":"boolq","id":0,"prompt":"<s> Q & A\n","generation":"the correct answer is true","prediction":"true","gold":"true","correct":true}` + "\n"
	if !bytes.HasPrefix(data, []byte(wantLine)) || bytes.Count(data, []byte("\n")) != 3 {
		t.Errorf("file =\n%s", data)
	}

	w, done, err = OpenPredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if done.Len() != 3 || !done.Has("boolq", 1) || !done.Has("piqa", 0) || done.Has("piqa", 1) {
		t.Errorf("done = %v", done.Keys())
	}
	if p, ok := done.Get("boolq", 1); !ok || p != pred("boolq", 1, false) {
		t.Errorf("Get = %+v %v", p, ok)
	}
	if ks := done.Keys(); len(ks) != 3 || ks[2] != (Key{"piqa", 0}) {
		t.Errorf("keys = %v", ks)
	}
	// The writer refuses what is already there, in the file or in the batch.
	if err := w.Write(pred("boolq", 1, true)); err == nil || !strings.Contains(err.Error(), "already written") {
		t.Errorf("duplicate from file: %v", err)
	}
	if err := w.Write(pred("piqa", 5, true), pred("piqa", 5, true)); err == nil {
		t.Error("duplicate within a batch accepted")
	}
	if err := w.Write(pred("", 2, true)); err == nil {
		t.Error("empty task accepted")
	}
	if err := w.Write(pred("piqa", -1, true)); err == nil {
		t.Error("negative id accepted")
	}
	if err := w.Write(pred("piqa", 5, true)); err != nil {
		t.Errorf("rejected batches must not mark keys done: %v", err)
	}
	if c, err := Resume(path); err != nil || c.Len() != 4 {
		t.Errorf("after rejected writes: %v %v", c.Len(), err)
	}
}

func TestResumeCutsTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	w, err := CreatePredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(pred("boolq", 0, true), pred("boolq", 1, true)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	good, _ := os.ReadFile(path)
	for _, tail := range []string{`{"task":"boolq","id":2,"prom`, `{"task":"boolq","id":2}`, "\x00\x00\x00"} {
		if err := os.WriteFile(path, append(append([]byte{}, good...), tail...), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Resume(path)
		if err != nil {
			t.Fatalf("tail %q: %v", tail, err)
		}
		if c.Len() != 2 || c.Has("boolq", 2) {
			t.Errorf("tail %q: %d done", tail, c.Len())
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(after, good) {
			t.Errorf("tail %q: file not cut back:\n%q", tail, after)
		}
	}
	// Appending after a resume continues cleanly.
	w, done, err := OpenPredictions(path)
	if err != nil || done.Len() != 2 {
		t.Fatal(done, err)
	}
	if err := w.Write(pred("boolq", 2, false)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if c, err := Resume(path); err != nil || c.Len() != 3 {
		t.Errorf("after append: %v %v", c, err)
	}
	// CreatePredictions starts over.
	w, err = CreatePredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if c, err := Resume(path); err != nil || c.Len() != 0 {
		t.Errorf("after create: %v %v", c, err)
	}
}

func TestResumeErrors(t *testing.T) {
	line := func(task string, id int) string {
		return `{"task":"` + task + `","id":` + string(rune('0'+id)) + `}` + "\n"
	}
	cases := []struct {
		name, data string
		line       int
		msg        string
	}{
		{"bad json", line("a", 0) + "{oops}\n" + line("a", 1), 2, "not a JSON object"},
		{"array", line("a", 0) + "[1]\n", 2, "not a JSON object"},
		{"null", "null\n", 1, "not a JSON object"},
		{"missing id", `{"task":"a"}` + "\n", 1, `missing "id"`},
		{"missing task", `{"id":3}` + "\n", 1, `missing "task"`},
		{"empty task", `{"task":"","id":3}` + "\n", 1, `empty "task"`},
		{"negative id", `{"task":"a","id":-3}` + "\n", 1, `negative "id"`},
		{"fractional id", `{"task":"a","id":1.5}` + "\n", 1, "id"},
		{"string id", `{"task":"a","id":"1"}` + "\n", 1, "id"},
		{"duplicate", line("a", 0) + line("b", 0) + line("a", 0), 3, "already on line 1"},
		{"empty line", line("a", 0) + "\n" + line("a", 1), 2, "empty line"},
		{"two objects", `{"task":"a","id":1} {"task":"a","id":2}` + "\n", 1, "invalid character"},
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "p.jsonl")
		if err := os.WriteFile(path, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Resume(path)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != path || fe.Line != c.line || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want line %d containing %q", c.name, err, c.line, c.msg)
		}
		if after, _ := os.ReadFile(path); string(after) != c.data {
			t.Errorf("%s: file modified on error", c.name)
		}
		if _, _, err := OpenPredictions(path); err == nil {
			t.Errorf("%s: OpenPredictions accepted a corrupt file", c.name)
		}
	}
}

func TestResumeMissingAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	c, err := Resume(filepath.Join(dir, "none.jsonl"))
	if err != nil || c.Len() != 0 || c.Has("a", 0) {
		t.Errorf("missing file: %v %v", c, err)
	}
	if _, err := Resume(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: %v", err)
	}
}
