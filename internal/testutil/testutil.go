// Package testutil finds the files tests share: the repository root and
// the real models and data sets in ../shared/data beside the checkout.
package testutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
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

// BuildBinary compiles the main package in dir (relative to the repository
// root, e.g. "train") into a temporary directory and returns its path.
func BuildBinary(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(dir))
	cmd := exec.Command("go", "build", "-o", bin, "./"+dir)
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./%s: %v\n%s", dir, err, out)
	}
	return bin
}

// RunCmd runs cmd and returns its stdout, stderr and exit code; failing to
// start it fails the test.
func RunCmd(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}
