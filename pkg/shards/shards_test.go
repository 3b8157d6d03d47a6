package shards

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randomExamples(r *rand.Rand, n int) []Example {
	out := make([]Example, n)
	for i := range out {
		L := 1 + r.IntN(40)
		ex := Example{Record: int64(i * 3), IDs: make([]int32, L), Mask: make([]uint8, L)}
		p := r.IntN(L)
		for t := 0; t < L; t++ {
			ex.IDs[t] = int32(r.IntN(32000))
			if t >= p {
				ex.Mask[t] = 1
			}
		}
		out[i] = ex
	}
	return out
}

func writeSplit(t *testing.T, dir, split string, exs []Example, opt WriterOptions) SplitInfo {
	t.Helper()
	w := NewWriter(dir, split, opt)
	for i := range exs {
		if err := w.Write(&exs[i]); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestRoundTrip(t *testing.T) {
	for _, unc := range []bool{false, true} {
		dir := t.TempDir()
		r := rand.New(rand.NewPCG(1, 2))
		exs := randomExamples(r, 1000)
		info := writeSplit(t, dir, "train", exs, WriterOptions{ShardRecords: 300, BatchRecords: 64, Uncompressed: unc,
			Metadata: map[string]string{"smt.template": "smt"}})
		if len(info.Shards) != 4 || info.Records != 1000 {
			t.Fatalf("info %+v", info)
		}
		if err := WriteManifest(dir, &Manifest{Splits: map[string]SplitInfo{"train": info}}); err != nil {
			t.Fatal(err)
		}
		s, err := OpenSplit(dir, "train")
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != len(exs) || s.Metadata()["smt.template"] != "smt" || s.Metadata()["smt.format"] != Format {
			t.Fatalf("len %d meta %v", s.Len(), s.Metadata())
		}
		var tokens int64
		for i, want := range exs {
			got := s.Get(i)
			tokens += int64(len(got.IDs))
			if got.Record != want.Record || len(got.IDs) != len(want.IDs) {
				t.Fatalf("example %d: %+v, want %+v", i, got, want)
			}
			for j := range want.IDs {
				if got.IDs[j] != want.IDs[j] || got.Mask[j] != want.Mask[j] {
					t.Fatalf("example %d token %d differs", i, j)
				}
			}
		}
		if tokens != info.Tokens {
			t.Fatalf("tokens %d, info %d", tokens, info.Tokens)
		}
		s.Close()
	}
}

func TestAbortLeavesNoShards(t *testing.T) {
	dir := t.TempDir()
	exs := randomExamples(rand.New(rand.NewPCG(3, 4)), 500)
	w := NewWriter(dir, "train", WriterOptions{ShardRecords: 200, BatchRecords: 50})
	for i := range exs {
		if err := w.Write(&exs[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Abort()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	exs := randomExamples(rand.New(rand.NewPCG(5, 6)), 50)
	info := writeSplit(t, dir, "train", exs, WriterOptions{})
	good, _ := os.ReadFile(filepath.Join(dir, info.Shards[0]))
	cases := map[string][]byte{
		"empty":     {},
		"truncated": good[:len(good)/2],
		"garbage":   []byte(strings.Repeat("not arrow ", 50)),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name+".arrow")
		os.WriteFile(p, data, 0o644)
		_, err := OpenFiles(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v should name %s", name, err, p)
		}
	}
	// A manifest whose record count disagrees with the shards.
	info.Records++
	WriteManifest(dir, &Manifest{Splits: map[string]SplitInfo{"train": info}})
	if _, err := OpenSplit(dir, "train"); err == nil || !strings.Contains(err.Error(), "the manifest says 51") {
		t.Errorf("record count mismatch: %v", err)
	}
	if _, err := OpenSplit(dir, "eval"); err == nil || !strings.Contains(err.Error(), `no "eval" split`) {
		t.Errorf("missing split: %v", err)
	}
}

func FuzzOpenShard(f *testing.F) {
	dir := f.TempDir()
	exs := randomExamples(rand.New(rand.NewPCG(7, 8)), 20)
	for _, unc := range []bool{false, true} {
		w := NewWriter(dir, "s", WriterOptions{Uncompressed: unc, BatchRecords: 7})
		for i := range exs {
			w.Write(&exs[i])
		}
		info, _ := w.Close()
		b, _ := os.ReadFile(filepath.Join(dir, info.Shards[0]))
		f.Add(b)
		os.Remove(filepath.Join(dir, info.Shards[0]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "x.arrow")
		os.WriteFile(p, data, 0o644)
		s, err := OpenFiles(p)
		if err != nil {
			return
		}
		defer s.Close()
		for i := 0; i < s.Len(); i++ {
			ex := s.Get(i)
			if len(ex.IDs) != len(ex.Mask) {
				t.Fatalf("example %d: %d ids, %d mask", i, len(ex.IDs), len(ex.Mask))
			}
		}
	})
}

func TestAbortAfterCloseKeepsShards(t *testing.T) {
	dir := t.TempDir()
	exs := randomExamples(rand.New(rand.NewPCG(9, 9)), 30)
	w := NewWriter(dir, "train", WriterOptions{ShardRecords: 10})
	for i := range exs {
		if err := w.Write(&exs[i]); err != nil {
			t.Fatal(err)
		}
	}
	info, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()
	for _, s := range info.Shards {
		if _, err := os.Stat(filepath.Join(dir, s)); err != nil {
			t.Fatalf("Abort after Close removed %s", s)
		}
	}
}
