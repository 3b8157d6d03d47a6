package tokenize

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smt-go/smt/pkg/dataset"
	"github.com/smt-go/smt/pkg/prompt"
)

// badCases are records that are valid JSON but not usable, each written
// in place of record 500 of the real ARC-Easy data.
var badCases = []struct {
	name, raw string
	class     error
}{
	{"missing output", `{"instruction": "q", "input": "", "answer": "answer1"}`, dataset.ErrMissingField},
	{"missing instruction", `{"input": "", "output": "o", "answer": "answer1"}`, dataset.ErrMissingField},
	{"non-string output", `{"instruction": "q", "input": "", "output": 3, "answer": "answer1"}`, dataset.ErrNotString},
	{"non-string input", `{"instruction": "q", "input": {"a": "b"}, "output": "o"}`, dataset.ErrNotString},
	{"invalid UTF-8", "{\"instruction\": \"q\xff\xfe\", \"input\": \"\", \"output\": \"o\"}", dataset.ErrInvalidUTF8},
	{"non-object", `["instruction", "output"]`, dataset.ErrNotObject},
}

// checkNoOutput checks that a failed run left neither the output
// directory nor a temporary directory behind.
func checkNoOutput(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output directory %s exists after a failure (%v)", out, err)
	}
	if l := leftovers(t, filepath.Dir(out)); len(l) > 0 {
		t.Errorf("temporary files left behind: %v", l)
	}
}

// TestBadRecord: a bad record at index 500 fails the run with an error
// naming the file, the record and its line, leaving no output (even though
// shards of 100 records had been completed); with SkipBad it is skipped and
// counted, and the other records are kept with their indices.
func TestBadRecord(t *testing.T) {
	recs := readRecords(t, arcEasy(t))
	tok := loadTok(t, tokenizers(t)["stories260K"])
	for _, c := range badCases {
		for _, jsonl := range []bool{false, true} {
			name := c.name + "/json"
			line := 502 // "[" then one record per line
			if jsonl {
				name, line = c.name+"/jsonl", 501
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				data := filepath.Join(dir, "bad.json")
				writeDataset(t, data, recs, jsonl, map[int]string{500: c.raw})
				out := filepath.Join(dir, "out", "shards")
				opt := Options{Tokenizer: tok, Inputs: []string{data}, Out: out, MaxLen: 2048, ShardRecords: 100, Threads: 2}
				_, err := Run(context.Background(), opt)
				if err == nil {
					t.Fatal("no error")
				}
				where := fmt.Sprintf("%s: record 500 (line %d)", data, line)
				if !strings.Contains(err.Error(), where) || !errors.Is(err, c.class) {
					t.Errorf("error %q should name %q and be %q", err, where, c.class)
				}
				checkNoOutput(t, out)

				opt.SkipBad = true
				res := runT(t, opt)
				cnt := res.Manifest.Counts
				if cnt.SkippedBad != 1 || cnt.Records != int64(len(recs)) || res.Kept() != int64(len(recs)-1) {
					t.Errorf("skip-bad: counts %+v, kept %d", cnt, res.Kept())
				}
				var idx []int64
				for _, ex := range readSplit(t, out, TrainSplit) {
					idx = append(idx, ex.Record)
				}
				if slices.Contains(idx, 500) || !slices.Contains(idx, 501) || idx[len(idx)-1] != int64(len(recs)-1) || len(res.Manifest.Splits[TrainSplit].Shards) != 23 {
					t.Errorf("skip-bad: records %v… in %d shards", idx[495:505], len(res.Manifest.Splits[TrainSplit].Shards))
				}
			})
		}
	}
}

// TestBadFile: a truncated file and an empty one fail, with or without
// SkipBad, naming the file (and the record where the text ends).
func TestBadFile(t *testing.T) {
	recs := readRecords(t, arcEasy(t))
	tok := loadTok(t, tokenizers(t)["stories260K"])
	dir := t.TempDir()
	full := filepath.Join(dir, "full.json")
	writeDataset(t, full, recs, false, nil)
	b, _ := os.ReadFile(full)
	// Cut the file in the middle of record 500 (line 502).
	lines := strings.SplitAfter(string(b), "\n")
	cut := strings.Join(lines[:501], "") + lines[501][:len(lines[501])/2]
	truncated := filepath.Join(dir, "truncated.json")
	os.WriteFile(truncated, []byte(cut), 0o644)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, []byte("[\n]\n"), 0o644)
	emptyL := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(emptyL, []byte("\n\n"), 0o644)
	cases := []struct {
		path, want string
		class      error
	}{
		{truncated, truncated + ": record 500 (line 502): unexpected end of file", dataset.ErrTruncated},
		{empty, empty + ": no records", dataset.ErrEmpty},
		{emptyL, emptyL + ": no records", dataset.ErrEmpty},
	}
	for _, c := range cases {
		for _, skip := range []bool{false, true} {
			out := filepath.Join(dir, "out")
			_, err := Run(context.Background(), Options{Tokenizer: tok, Inputs: []string{full, c.path}, Out: out, SkipBad: skip, ShardRecords: 100})
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.class) {
				t.Errorf("%s (skip %v): error %v, want %q", filepath.Base(c.path), skip, err, c.want)
			}
			checkNoOutput(t, out)
		}
	}
	// Every record bad: nothing usable is an error even with SkipBad.
	allBad := filepath.Join(dir, "allbad.jsonl")
	os.WriteFile(allBad, []byte("{}\n[]\n"), 0o644)
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), Options{Tokenizer: tok, Inputs: []string{allBad}, Out: out, SkipBad: true}); err == nil || !strings.Contains(err.Error(), "no usable records") {
		t.Errorf("all records bad: %v", err)
	}
	checkNoOutput(t, out)
}

// TestCancel: cancelling the context midway (the input is a pipe that has
// delivered 1500 records and is kept open, and shards of 100 records have
// been written) makes Run return the cancellation and leave nothing
// behind.
func TestCancel(t *testing.T) {
	recs := readRecords(t, arcEasy(t))
	tok := loadTok(t, tokenizers(t)["stories260K"])
	dir := t.TempDir()
	full := filepath.Join(dir, "full.jsonl")
	writeDataset(t, full, recs, true, nil)
	b, _ := os.ReadFile(full)
	head := strings.Join(strings.SplitAfter(string(b), "\n")[:1500], "")
	fifo := filepath.Join(dir, "pipe.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Tokenizer: tok, Inputs: []string{fifo}, Out: out, ShardRecords: 100, Threads: 2})
		done <- err
	}()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString(head); err != nil {
		t.Fatal(err)
	}
	// Wait until the temporary directory holds completed shards.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(dir, ".out.tmp-*", "train-0000[1-9].arrow"))
		if len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no shards written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	defer w.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	checkNoOutput(t, out)

	// A context cancelled before the start.
	_, err = Run(ctx, Options{Tokenizer: tok, Inputs: []string{full}, Out: out})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v", err)
	}
	checkNoOutput(t, out)
}

// TestOutputDir: an existing non-empty directory without a manifest is
// not replaced; an earlier shard directory is, atomically.
func TestOutputDir(t *testing.T) {
	tok := loadTok(t, tokenizers(t)["stories260K"])
	dir := t.TempDir()
	data := filepath.Join(dir, "d.jsonl")
	writeDataset(t, data, []prompt.Record{{Instruction: "a", Output: "b"}, {Instruction: "c", Output: "d"}}, true, nil)
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "precious.txt"), []byte("x"), 0o644)
	if _, err := Run(context.Background(), Options{Tokenizer: tok, Inputs: []string{data}, Out: other}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("non-shard directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "precious.txt")); err != nil {
		t.Error("the directory was touched")
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Run(context.Background(), Options{Tokenizer: tok, Inputs: []string{data}, Out: file}); err == nil {
		t.Error("a file as output is accepted")
	}
	out := filepath.Join(dir, "shards")
	runT(t, Options{Tokenizer: tok, Inputs: []string{data}, Out: out, EvalSplit: EvalSplit{Count: 1}})
	runT(t, Options{Tokenizer: tok, Inputs: []string{data}, Out: out})
	m, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(m) != 2 { // manifest.json and train-00000.arrow
		t.Errorf("after a rerun the directory holds %v", m)
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}
