// Package mmapfile maps whole files into memory read-only, so that large
// inputs (weights, token shards) are read in place without copies.
package mmapfile

import (
	"fmt"
	"os"
)

// File is a read-only mapping of a whole file.
type File struct {
	// Data is the file's content; it is valid until Close.
	Data []byte
	path string
}

// Open maps path read-only. An empty file gives empty Data.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("mmap %s: not a regular file", path)
	}
	data, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return &File{Data: data, path: path}, nil
}

// Path returns the mapped file's path.
func (f *File) Path() string { return f.path }

// Close unmaps the file. Data must not be used afterwards.
func (f *File) Close() error {
	if f == nil || f.Data == nil {
		return nil
	}
	err := unmapFile(f.Data)
	f.Data = nil
	return err
}
