// Package shards holds the token shards that the tokenize stage writes and
// the training stages read: Arrow IPC files of tokenized examples plus a
// manifest.json that describes them.
//
// Each shard `<split>-NNNNN.arrow` (split "train" or "eval") is an Arrow IPC
// file (zstd-compressed by default) with the schema
//
//	input_ids  list<int32>  not null   token ids of prompt + response (+ EOS), BOS first when the template adds it
//	loss_mask  list<uint8>  not null   1 where the token is a training target (response tokens and EOS), 0 elsewhere
//	record     int64        not null   index of the record in the source dataset
//
// and schema metadata keys "smt.format" (= Format), "smt.split",
// "smt.tokenizer_hash", "smt.template" and "smt.max_len". loss_mask[t] = 1
// means the model is trained to predict input_ids[t] from the tokens
// before it; input_ids[0] is never a target.
package shards

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// Format identifies the shard layout in metadata and the manifest.
const Format = "smt-shards/1"

// ManifestName is the manifest's file name inside a shard directory.
const ManifestName = "manifest.json"

// Schema is the Arrow schema of every shard.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "input_ids", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)},
	{Name: "loss_mask", Type: arrow.ListOf(arrow.PrimitiveTypes.Uint8)},
	{Name: "record", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// Example is one tokenized training example.
type Example struct {
	Record int64   // index in the source dataset
	IDs    []int32 // token ids
	Mask   []uint8 // 1 where IDs[t] is a target; len(Mask) == len(IDs)
}

// LossTokens counts the targets of the example.
func (e *Example) LossTokens() int {
	n := 0
	for _, m := range e.Mask {
		if m != 0 {
			n++
		}
	}
	return n
}

// SplitInfo describes the shards of one split.
type SplitInfo struct {
	Shards     []string `json:"shards"`
	Records    int64    `json:"records"`
	Tokens     int64    `json:"tokens"`
	LossTokens int64    `json:"loss_tokens"`
	MaxLen     int      `json:"max_len"` // longest example, tokens
}

// TokenizerInfo identifies the tokenizer the shards were made with.
type TokenizerInfo struct {
	Path      string `json:"path"`
	Hash      string `json:"hash"`
	VocabSize int    `json:"vocab_size"`
	BOS       int32  `json:"bos_id"`
	EOS       int32  `json:"eos_id"`
}

// Manifest is manifest.json: how the shards were made and what they hold.
type Manifest struct {
	Format        string               `json:"format"`
	Created       string               `json:"created"`
	Sources       []Source             `json:"sources"`
	Tokenizer     TokenizerInfo        `json:"tokenizer"`
	Template      string               `json:"template"`
	MaxLen        int                  `json:"max_len"`
	Overflow      string               `json:"overflow"` // "truncate" or "drop"
	TrainOnInputs bool                 `json:"train_on_inputs"`
	EvalSplit     string               `json:"eval_split,omitempty"`
	Seed          int64                `json:"seed"`
	Counts        Counts               `json:"counts"`
	Splits        map[string]SplitInfo `json:"splits"`
}

// Source is one input dataset file.
type Source struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Records int64  `json:"records"`
}

// Counts tallies what happened to the input records.
type Counts struct {
	Records    int64 `json:"records"`     // records read
	SkippedBad int64 `json:"skipped_bad"` // malformed records skipped (--skip-bad)
	Truncated  int64 `json:"truncated"`   // cut to max_len
	Dropped    int64 `json:"dropped"`     // longer than max_len and dropped
	NoTargets  int64 `json:"no_targets"`  // kept but with no loss token (e.g. the response was truncated away)
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("shards: %s: %w", path, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("shards: %s: format %q, expected %q", path, m.Format, Format)
	}
	for name, s := range m.Splits {
		for _, f := range s.Shards {
			if filepath.Base(f) != f {
				return nil, fmt.Errorf("shards: %s: split %s names shard %q outside the directory", path, name, f)
			}
		}
	}
	return &m, nil
}

// WriteManifest writes dir/manifest.json atomically.
func WriteManifest(dir string, m *Manifest) error {
	m.Format = Format
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestName), append(b, '\n'))
}

// Hash returns the SHA-256 of a shard directory's manifest and of the shard
// files of one split, in manifest order: the identity of the training data.
func Hash(dir, split string) (string, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	files := []string{ManifestName}
	if s, ok := m.Splits[split]; ok {
		files = append(files, s.Shards...)
	}
	for _, f := range files {
		fd, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			return "", fmt.Errorf("shards: hash: %w", err)
		}
		fmt.Fprintf(h, "%s\n", f)
		_, err = io.Copy(h, fd)
		fd.Close()
		if err != nil {
			return "", fmt.Errorf("shards: hash %s: %w", f, err)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
