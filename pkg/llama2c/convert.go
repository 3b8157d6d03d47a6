package llama2c

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/safetensors"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// Convert writes a Hugging Face model directory (config.json,
// model.safetensors in float32, tokenizer.model, tokenizer_config.json,
// special_tokens_map.json, generation_config.json) from a llama2.c
// checkpoint and its tokenizer.bin. The directory appears atomically.
// notes, when not empty, is written as README.md (origin and license).
func Convert(checkpoint, tokenizerBin, outDir, notes string) error {
	ck, err := Read(checkpoint)
	if err != nil {
		return err
	}
	tb, err := os.ReadFile(tokenizerBin)
	if err != nil {
		return fmt.Errorf("llama2c: %w", err)
	}
	tok, err := tokenizer.ParseLlama2C(tb, tokenizerBin)
	if err != nil {
		return err
	}
	if tok.VocabSize() != ck.VocabSize {
		return fmt.Errorf("llama2c: tokenizer %s has %d tokens, checkpoint %s a vocabulary of %d", tokenizerBin, tok.VocabSize(), checkpoint, ck.VocabSize)
	}
	d, err := atomicfile.CreateDir(outDir)
	if err != nil {
		return err
	}
	defer d.Abort()
	cfg := ck.Config()
	if err := writeJSON(filepath.Join(d.Tmp, "config.json"), cfg); err != nil {
		return err
	}
	hf := ck.HFTensors()
	var tensors []safetensors.Tensor
	for _, t := range llama.NewLayout(cfg).Tensors {
		data := hf[t.Name]
		if len(data) != t.Size {
			return fmt.Errorf("llama2c: tensor %s has %d values, expected %d", t.Name, len(data), t.Size)
		}
		tensors = append(tensors, safetensors.Tensor{
			Info: safetensors.TensorInfo{Name: t.Name, DType: safetensors.F32, Shape: t.Shape},
			Data: unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)),
		})
	}
	if err := safetensors.WriteFile(filepath.Join(d.Tmp, "model.safetensors"), tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := tokenizer.SaveSentencePieceModel(filepath.Join(d.Tmp, "tokenizer.model"), tok); err != nil {
		return err
	}
	special := map[string]any{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
	tc := map[string]any{
		"tokenizer_class": "LlamaTokenizer", "add_bos_token": true, "add_eos_token": false,
		"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": nil,
		"model_max_length": ck.SeqLen, "legacy": true, "clean_up_tokenization_spaces": false,
	}
	gen := map[string]any{"bos_token_id": 1, "eos_token_id": 2}
	for name, v := range map[string]any{"tokenizer_config.json": tc, "special_tokens_map.json": special, "generation_config.json": gen} {
		if err := writeJSON(filepath.Join(d.Tmp, name), v); err != nil {
			return err
		}
	}
	if notes != "" {
		if err := os.WriteFile(filepath.Join(d.Tmp, "README.md"), []byte(notes), 0o644); err != nil {
			return err
		}
	}
	return d.Commit()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("llama2c: %s: %w", path, err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
