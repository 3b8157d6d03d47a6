package llama

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/smt-go/smt/pkg/backend"
	"github.com/smt-go/smt/pkg/safetensors"
)

// Load reads a Hugging Face model directory (config.json and
// model.safetensors, or sharded safetensors with an index) onto be.
func Load(dir string, be backend.Backend) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	r, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	m := New(cfg, be)
	if err := m.LoadWeights(r, dir); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadWeights copies every parameter tensor from r into the model. A
// missing tensor or one of the wrong shape is an error naming the tensor
// and the shape it must have; src names the checkpoint in errors.
func (m *Model) LoadWeights(r safetensors.Reader, src string) error {
	var host []float32
	for i := range m.Layout.Tensors {
		t := &m.Layout.Tensors[i]
		info, ok := r.Info(t.Name)
		if !ok {
			why := ""
			if t.Kind == Head {
				why = " (config.json has tie_word_embeddings false)"
			}
			return fmt.Errorf("model %s: tensor %s is missing%s; expected shape %v (%s)", src, t.Name, why, t.Shape, t.Why)
		}
		if !sameShape(info.Shape, t.Shape) {
			return fmt.Errorf("model %s: tensor %s has shape %v, expected %v (%s)", src, t.Name, info.Shape, t.Shape, t.Why)
		}
		if cap(host) < t.Size {
			host = make([]float32, t.Size)
		}
		host = host[:t.Size]
		if err := r.ReadFloat32(t.Name, host); err != nil {
			return fmt.Errorf("model %s: %w", src, err)
		}
		m.BE.Upload(m.BE.Slice(m.Params, t.Offset, t.Size), host)
	}
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// WeightFiles lists the safetensors files of a model directory in name
// order.
func WeightFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("model %s: no .safetensors files", dir)
	}
	sort.Strings(files)
	return files, nil
}

// HashWeights returns the SHA-256 of a model directory's weights: of
// config.json and every safetensors file, in name order, each prefixed by
// its base name. Two directories with the same hash hold the same model.
func HashWeights(dir string) (string, error) {
	files, err := WeightFiles(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range append([]string{filepath.Join(dir, "config.json")}, files...) {
		fmt.Fprintf(h, "%s\n", filepath.Base(f))
		fd, err := os.Open(f)
		if err != nil {
			return "", fmt.Errorf("hash model %s: %w", dir, err)
		}
		_, err = io.Copy(h, fd)
		fd.Close()
		if err != nil {
			return "", fmt.Errorf("hash model %s: %s: %w", dir, f, err)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
