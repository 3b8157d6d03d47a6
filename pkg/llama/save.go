package llama

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/safetensors"
)

// DefaultShardBytes is the shard size limit Save uses (Hugging Face's
// default max_shard_size of 5 GB).
const DefaultShardBytes = 5_000_000_000

// Save writes the model as a Hugging Face model directory, atomically:
// config.json and the weights in dtype (F32, BF16 or F16; sharded with an
// index above shardBytes), plus every non-weight file of srcDir (tokenizer,
// generation config, license …) when srcDir is not empty.
func (m *Model) Save(dir string, dtype safetensors.DType, shardBytes int64, srcDir string) error {
	switch dtype {
	case safetensors.F32, safetensors.BF16, safetensors.F16:
	default:
		return fmt.Errorf("save %s: dtype %s is not a float type the model can be written in", dir, dtype)
	}
	d, err := atomicfile.CreateDir(dir)
	if err != nil {
		return err
	}
	defer d.Abort()
	if srcDir != "" {
		if err := copyNonWeights(srcDir, d.Tmp); err != nil {
			return err
		}
	}
	cfg := *m.Cfg
	cfg.TorchDType = map[safetensors.DType]string{safetensors.F32: "float32", safetensors.BF16: "bfloat16", safetensors.F16: "float16"}[dtype]
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.Tmp, "config.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	specs := make([]safetensors.TensorInfo, len(m.Layout.Tensors))
	for i, t := range m.Layout.Tensors {
		specs[i] = safetensors.TensorInfo{Name: t.Name, DType: dtype, Shape: t.Shape}
	}
	w, err := safetensors.NewShardedWriter(d.Tmp, specs, map[string]string{"format": "pt"}, shardBytes)
	if err != nil {
		return err
	}
	var host []float32
	var raw []byte
	for _, t := range m.Layout.Tensors {
		if cap(host) < t.Size {
			host = make([]float32, t.Size)
			raw = make([]byte, t.Size*4)
		}
		host, raw = host[:t.Size], raw[:t.Size*dtype.Size()]
		m.BE.Download(host, m.BE.Slice(m.Params, t.Offset, t.Size))
		if err := safetensors.EncodeFloat32(raw, host, dtype); err != nil {
			w.Abort()
			return err
		}
		if err := w.WriteTensor(t.Name, raw); err != nil {
			w.Abort()
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return d.Commit()
}

// isWeightFile reports whether a model-directory file holds weights (they
// are never copied between model directories as-is).
func isWeightFile(name string) bool {
	return strings.HasSuffix(name, ".safetensors") || name == safetensors.IndexFileName ||
		strings.HasSuffix(name, ".bin") || strings.HasSuffix(name, ".pt") || strings.HasSuffix(name, ".pth") ||
		name == "config.json" || name == "pytorch_model.bin.index.json"
}

// copyNonWeights copies the regular files of src that are not weights or
// config.json into dst.
func copyNonWeights(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || isWeightFile(e.Name()) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// WeightDType returns the dtype of the model directory's first weight
// tensor (the dtype Save should keep).
func WeightDType(dir string) (safetensors.DType, error) {
	r, err := safetensors.OpenModel(dir)
	if err != nil {
		return "", err
	}
	defer r.Close()
	for _, n := range r.Names() {
		info, _ := r.Info(n)
		return info.DType, nil
	}
	return "", fmt.Errorf("model %s has no tensors", dir)
}
