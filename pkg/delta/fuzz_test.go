package delta

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read as a file: it must return a delta
// or an error, never panic, and whatever it accepts must pass the checks
// Write makes.
//
// Run it with a bounded minimization, which otherwise spends a minute on
// each new input:
//
//	go test ./pkg/delta -run '^$' -fuzz FuzzRead -fuzztime 60s -fuzzminimizetime 200x
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed")
	if err := Write(seed, testMeta(2), testMats(2)[2:4]); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(good[:40])
	f.Add([]byte{})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              "))
	small := filepath.Join(dir, "small")
	if err := Write(small, testMeta(1), []Matrix{{Name: "w", Rows: []int32{0}, Cols: []int32{0}, Values: []float32{1}}}); err != nil {
		f.Fatal(err)
	}
	if b, err := os.ReadFile(small); err == nil {
		f.Add(b)
	}
	// Each fuzzing process runs its inputs one at a time: one file will do.
	path := filepath.Join(dir, "input.safetensors")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		meta, mats, err := Read(path)
		if err != nil {
			return
		}
		if err := meta.validate(); err != nil {
			t.Fatalf("Read accepted metadata that Write refuses: %v", err)
		}
		seen := map[string]bool{}
		for i := range mats {
			if err := mats[i].check(meta.BlockSize); err != nil {
				t.Fatalf("Read accepted a matrix that Write refuses: %v", err)
			}
			if seen[mats[i].Name] {
				t.Fatalf("Read returned %q twice", mats[i].Name)
			}
			seen[mats[i].Name] = true
		}
	})
}
