package delta

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// weightSuffixes end the names of files that hold weights (in any format)
// or index them. Merge writes the weights it reads itself and copies none
// of these: an unmerged copy of the weights beside the merged ones could be
// loaded instead of them.
var weightSuffixes = []string{
	".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json",
	".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx", ".onnx_data",
}

// isWeightFile reports whether a file name is a weights file (see
// weightSuffixes).
func isWeightFile(name string) bool {
	for _, s := range weightSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// copyNonWeights copies the files of the base directory src into dst,
// recursively, except weight files and hidden entries (".git", ".cache",
// temporary files). Symbolic links to files (as in a Hugging Face cache
// snapshot) are copied as the files they point to; links to directories are
// skipped. It returns the relative paths copied and skipped.
func copyNonWeights(src, dst string) (copied, skipped []string, err error) {
	err = filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("copy %s: %w", path, err)
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") {
			skipped = append(skipped, rel)
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if e.IsDir() {
			if err := os.MkdirAll(filepath.Join(dst, rel), 0o755); err != nil {
				return fmt.Errorf("copy %s: %w", path, err)
			}
			return nil
		}
		st, err := os.Stat(path) // follows a link
		if err != nil {
			return fmt.Errorf("copy %s: %w", path, err)
		}
		if !st.Mode().IsRegular() || isWeightFile(e.Name()) {
			skipped = append(skipped, rel)
			return nil
		}
		if err := copyFile(path, filepath.Join(dst, rel)); err != nil {
			return err
		}
		copied = append(copied, rel)
		return nil
	})
	return copied, skipped, err
}

// copyFile copies a file's content to dst atomically (synced to disk).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer in.Close()
	if err := atomicfile.WriteFrom(dst, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// resolve returns the absolute path of p with symbolic links resolved as
// far as p exists.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return abs, nil
}

// within reports whether path is dir or inside it (both absolute, clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkPaths refuses an output directory that would destroy or mix with an
// input: the base directory itself, a directory holding the base or the
// delta (committing replaces it), or a directory inside the base. An
// existing output is replaced only when it is empty or a model directory
// (holds config.json), so a mistyped --out cannot remove unrelated files.
func checkPaths(baseDir, deltaPath, outDir string) error {
	base, err := resolve(baseDir)
	if err != nil {
		return err
	}
	dpath, err := resolve(deltaPath)
	if err != nil {
		return err
	}
	out, err := resolve(outDir)
	if err != nil {
		return err
	}
	switch {
	case within(base, out):
		return fmt.Errorf("output directory %s is or holds the base model directory %s", outDir, baseDir)
	case within(out, base):
		return fmt.Errorf("output directory %s is inside the base model directory %s", outDir, baseDir)
	case within(dpath, out):
		return fmt.Errorf("output directory %s holds the delta %s, which replacing it would delete", outDir, deltaPath)
	}
	st, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("output %s exists and is not a directory", outDir)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		return fmt.Errorf("output directory %s exists and is not a model directory (no config.json); remove it or choose another", outDir)
	}
	return nil
}
