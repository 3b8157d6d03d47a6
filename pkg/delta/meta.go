package delta

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Format is the value of the smt.format metadata key of files this package
// writes and reads.
const Format = "smt-delta/1"

// Suffixes of the two tensors stored for each matrix.
const (
	BlocksSuffix = "::blocks" // F32 [k, S, S]: the block values
	IndexSuffix  = "::index"  // I32 [k, 2]: (row, col) of each block
)

// Metadata keys of a delta file.
const (
	keyFormat    = "smt.format"
	keyBaseHash  = "smt.base_model_hash"
	keyBlockSize = "smt.block_size"
	keyBlocksSHA = "smt.blocks_sha256"
	keyStep      = "smt.step"
	keyKept      = "smt.kept"
	keyEvalLoss  = "smt.eval_loss"
	keyTrain     = "smt.train"
)

// Values of Meta.Kept.
const (
	KeptBest = "best" // the values with the lowest held-out loss
	KeptLast = "last" // the values after the last optimizer step
)

// Meta is the metadata of a delta: where its blocks come from and how they
// were trained.
type Meta struct {
	// BaseModelHash is llama.HashWeights of the model directory the blocks
	// were trained from ("sha256:" and 64 hex digits).
	BaseModelHash string
	// BlockSize is the side S of every block.
	BlockSize int
	// BlocksSHA256 is "sha256:…" of the blocks.arrow the run used; empty
	// when unknown.
	BlocksSHA256 string
	// Step is the number of optimizer steps behind the kept values.
	Step int
	// Kept says which values the delta holds: KeptBest or KeptLast.
	Kept string
	// EvalLoss is the held-out loss of the kept values; 0 or NaN when there
	// is none (then nothing is written, and Read returns 0).
	EvalLoss float64
	// Train is the JSON of the training settings; opaque to this package
	// beyond being valid JSON. Empty when unknown.
	Train string
}

// HasEvalLoss reports whether the metadata carries a held-out loss.
func (m Meta) HasEvalLoss() bool { return m.EvalLoss != 0 && !math.IsNaN(m.EvalLoss) }

// validate checks the fields Write stores.
func (m Meta) validate() error {
	if err := checkHash(keyBaseHash, m.BaseModelHash); err != nil {
		return err
	}
	if m.BlocksSHA256 != "" {
		if err := checkHash(keyBlocksSHA, m.BlocksSHA256); err != nil {
			return err
		}
	}
	if m.BlockSize <= 0 {
		return fmt.Errorf("metadata %s: block size %d is not positive", keyBlockSize, m.BlockSize)
	}
	if m.Step < 0 {
		return fmt.Errorf("metadata %s: step %d is negative", keyStep, m.Step)
	}
	if m.Kept != KeptBest && m.Kept != KeptLast {
		return fmt.Errorf("metadata %s: %q is neither %q nor %q", keyKept, m.Kept, KeptBest, KeptLast)
	}
	if math.IsInf(m.EvalLoss, 0) {
		return fmt.Errorf("metadata %s: %v is not finite", keyEvalLoss, m.EvalLoss)
	}
	if m.Train != "" && !json.Valid([]byte(m.Train)) {
		return fmt.Errorf("metadata %s: not valid JSON", keyTrain)
	}
	return nil
}

// checkHash checks that h is "sha256:" followed by 64 lower-case hex digits.
func checkHash(key, h string) error {
	hex, ok := strings.CutPrefix(h, "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		if h == "" {
			return fmt.Errorf("metadata %s is missing", key)
		}
		return fmt.Errorf("metadata %s: %q is not \"sha256:\" and 64 hex digits", key, h)
	}
	return nil
}

// encode returns the "__metadata__" map of m.
func (m Meta) encode() map[string]string {
	md := map[string]string{
		keyFormat:    Format,
		keyBaseHash:  m.BaseModelHash,
		keyBlockSize: strconv.Itoa(m.BlockSize),
		keyStep:      strconv.Itoa(m.Step),
		keyKept:      m.Kept,
	}
	if m.BlocksSHA256 != "" {
		md[keyBlocksSHA] = m.BlocksSHA256
	}
	if m.HasEvalLoss() {
		md[keyEvalLoss] = strconv.FormatFloat(m.EvalLoss, 'g', -1, 64)
	}
	if m.Train != "" {
		md[keyTrain] = m.Train
	}
	return md
}

// decodeMeta parses and validates a "__metadata__" map. Keys it does not
// know are ignored.
func decodeMeta(md map[string]string) (Meta, error) {
	f, ok := md[keyFormat]
	if !ok {
		return Meta{}, fmt.Errorf("not an SMT delta: metadata has no %s", keyFormat)
	}
	if f != Format {
		return Meta{}, fmt.Errorf("metadata %s is %q; this program reads %q", keyFormat, f, Format)
	}
	m := Meta{
		BaseModelHash: md[keyBaseHash],
		BlocksSHA256:  md[keyBlocksSHA],
		Kept:          md[keyKept],
		Train:         md[keyTrain],
	}
	var err error
	if m.BlockSize, err = atoi(md, keyBlockSize); err != nil {
		return Meta{}, err
	}
	if m.Step, err = atoi(md, keyStep); err != nil {
		return Meta{}, err
	}
	if s, ok := md[keyEvalLoss]; ok {
		if m.EvalLoss, err = strconv.ParseFloat(s, 64); err != nil || math.IsNaN(m.EvalLoss) || math.IsInf(m.EvalLoss, 0) {
			return Meta{}, fmt.Errorf("metadata %s: %q is not a finite number", keyEvalLoss, s)
		}
	}
	if err := m.validate(); err != nil {
		return Meta{}, err
	}
	return m, nil
}

// atoi parses a required non-negative decimal integer of the metadata.
func atoi(md map[string]string, key string) (int, error) {
	s, ok := md[key]
	if !ok {
		return 0, fmt.Errorf("metadata %s is missing", key)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("metadata %s: %q is not a non-negative integer", key, s)
	}
	return v, nil
}
