// Package atomicfile writes files and directories so that a reader sees
// either the old content or the complete new content, never a partial write:
// data goes to a temporary name in the same directory, is fsynced, and is
// renamed over the destination; the directory is fsynced after the rename.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File is a file being written atomically. Write to it like an *os.File,
// then call Commit to publish it under its final name, or Abort to discard
// it. Abort after Commit is a no-op, so `defer f.Abort()` is always safe.
type File struct {
	*os.File
	path string
	done bool
}

// Create starts an atomic write of path with permissions 0644.
func Create(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("atomicfile: create %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("atomicfile: chmod %s: %w", tmp.Name(), err)
	}
	return &File{File: tmp, path: path}, nil
}

// Path returns the final path the file is published under.
func (f *File) Path() string { return f.path }

// Commit flushes the data to stable storage and renames the temporary file
// to its final path.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: commit after commit or abort of " + f.path)
	}
	f.done = true
	tmp := f.File.Name()
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: sync %s: %w", f.path, err)
	}
	if err := f.File.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: close %s: %w", f.path, err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: rename to %s: %w", f.path, err)
	}
	return SyncDir(filepath.Dir(f.path))
}

// Abort discards the temporary file. It does nothing after Commit.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	f.File.Close()
	return os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	return f.Commit()
}

// WriteFrom writes everything r yields to path atomically.
func WriteFrom(path string, r io.Reader) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	return f.Commit()
}

// SyncDir fsyncs a directory so that renames inside it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("atomicfile: sync dir %s: %w", dir, err)
	}
	return nil
}

// Dir is a directory being built atomically: files are written into a
// temporary sibling directory, and Commit renames it to the final path.
// If the final path already exists it is replaced only after the new
// directory is complete (the old one is moved aside, then removed).
type Dir struct {
	// Tmp is the temporary directory to write into.
	Tmp  string
	path string
	done bool
}

// CreateDir starts building the directory path.
func CreateDir(path string) (*Dir, error) {
	parent, base := filepath.Split(filepath.Clean(path))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("atomicfile: mkdir %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("atomicfile: create dir for %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("atomicfile: chmod %s: %w", tmp, err)
	}
	return &Dir{Tmp: tmp, path: filepath.Clean(path)}, nil
}

// Path returns the final path of the directory.
func (d *Dir) Path() string { return d.path }

// Commit fsyncs the temporary directory and renames it to the final path.
func (d *Dir) Commit() error {
	if d.done {
		return errors.New("atomicfile: commit after commit or abort of " + d.path)
	}
	d.done = true
	if err := SyncDir(d.Tmp); err != nil {
		os.RemoveAll(d.Tmp)
		return err
	}
	var old string
	if _, err := os.Lstat(d.path); err == nil {
		old = d.Tmp + ".old"
		if err := os.Rename(d.path, old); err != nil {
			os.RemoveAll(d.Tmp)
			return fmt.Errorf("atomicfile: move aside %s: %w", d.path, err)
		}
	}
	if err := os.Rename(d.Tmp, d.path); err != nil {
		if old != "" {
			os.Rename(old, d.path)
		}
		os.RemoveAll(d.Tmp)
		return fmt.Errorf("atomicfile: rename to %s: %w", d.path, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return SyncDir(filepath.Dir(d.path))
}

// Abort removes the temporary directory. It does nothing after Commit.
func (d *Dir) Abort() error {
	if d.done {
		return nil
	}
	d.done = true
	return os.RemoveAll(d.Tmp)
}
