//go:build !unix

package safetensors

import (
	"io"
	"os"
)

// mapFile reads the whole file into memory on systems without mmap support
// in package syscall.
func mapFile(f *os.File, size int64) ([]byte, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(io.NewSectionReader(f, 0, size), b)
	return b, err
}

// unmapFile releases memory returned by mapFile.
func unmapFile(b []byte) error { return nil }
