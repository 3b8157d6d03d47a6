package blocks

import (
	"fmt"

	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/scores"
)

// CheckModel checks that scores were computed for a model with
// configuration cfg: the same number of layers, the same [out, in] shape
// for every scored kind, a block size that divides those shapes, and the
// same model_params_2d (every 2-D weight, the head counted even when tied,
// as warmup counts it) when the scores give one. Errors say what differs.
func CheckModel(sm scores.Meta, cfg *llama.Config) error {
	if sm.Layers != cfg.NumHiddenLayers {
		return fmt.Errorf("the scores are for %d layers, the model has num_hidden_layers %d", sm.Layers, cfg.NumHiddenLayers)
	}
	lay := llama.NewLayout(cfg)
	for _, k := range sortedKeys(sm.Shapes) {
		if _, err := KindIndex(k); err != nil {
			return fmt.Errorf("the scores give a shape for %q: %w", k, err)
		}
	}
	for _, k := range Kinds {
		if _, ok := sm.Shapes[k]; !ok {
			continue
		}
		kind, err := llama.ParseKind(k)
		if err != nil {
			return err
		}
		t := lay.Get(kind, 0)
		want, got := sm.Shapes[k], [2]int{t.Rows(), t.Cols()}
		if want != got {
			return fmt.Errorf("%s_proj is [%d, %d] in the scores but [%d, %d] in the model (%s)", k, want[0], want[1], got[0], got[1], t.Why)
		}
		if S := sm.BlockSize; S <= 0 || got[0]%S != 0 || got[1]%S != 0 {
			return fmt.Errorf("block size %d does not divide the model's %s_proj [%d, %d]", S, k, got[0], got[1])
		}
	}
	var p2d int64
	for _, t := range lay.Tensors {
		if len(t.Shape) == 2 {
			p2d += int64(t.Size)
		}
	}
	if cfg.TieWordEmbeddings {
		p2d += int64(cfg.VocabSize) * int64(cfg.HiddenSize)
	}
	if sm.ModelParams2D != 0 && sm.ModelParams2D != p2d {
		return fmt.Errorf("the scores count %d 2-D parameters, the model %d (vocab_size %d, hidden_size %d: another vocabulary?)", sm.ModelParams2D, p2d, cfg.VocabSize, cfg.HiddenSize)
	}
	return nil
}
