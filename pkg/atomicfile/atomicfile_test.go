package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	if err := WriteFile(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new content"))
	// Before Commit the old content is still what a reader sees.
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Fatalf("before commit: %q", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "new content" {
		t.Fatalf("after commit: %q", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	f.Abort()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("abort left files: %v", ents)
	}
}

func TestDirCommitReplaces(t *testing.T) {
	parent := t.TempDir()
	p := filepath.Join(parent, "model")
	os.MkdirAll(p, 0o755)
	os.WriteFile(filepath.Join(p, "stale"), []byte("x"), 0o644)
	d, err := CreateDir(p)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(d.Tmp, "config.json"), []byte("{}"), 0o644)
	if _, err := os.Stat(filepath.Join(p, "stale")); err != nil {
		t.Fatal("old dir gone before commit")
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "stale")); !os.IsNotExist(err) {
		t.Fatal("old content survived commit")
	}
	if _, err := os.Stat(filepath.Join(p, "config.json")); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		t.Fatalf("leftovers: %v", ents)
	}
}
