package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// wantErr fails unless err is non-nil and its text contains every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

// dirEntries returns the names in dir, for checking that no temporary file
// was left behind.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// writeRaw writes a safetensors file from a raw header string and buffer.
func writeRaw(t *testing.T, dir, name, header string, buf []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	b := make([]byte, 8, 8+len(header)+len(buf))
	n := uint64(len(header))
	for i := range 8 {
		b[i] = byte(n >> (8 * i))
	}
	b = append(b, header...)
	b = append(b, buf...)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
