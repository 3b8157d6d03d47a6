// Package testutil finds the files tests share: the repository root and
// the real models and data sets in ../shared/data beside the checkout.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod, searching upwards from the
// working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testutil: no go.mod above the working directory")
		}
		dir = parent
	}
}

// SharedData returns the shared data directory ($SMT_SHARED_DATA, or
// ../shared/data beside the repository), or skips the test when it is
// absent.
func SharedData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SMT_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Skipf("shared data not found at %s (set SMT_SHARED_DATA): %v", dir, err)
	}
	return dir
}

// Shared returns path joined to SharedData, skipping when the file is absent.
func Shared(t testing.TB, path string) string {
	t.Helper()
	p := filepath.Join(SharedData(t), path)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared file %s not found: %v", p, err)
	}
	return p
}
