package tokenize

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/smt-go/smt/pkg/cmdutil"
	"github.com/smt-go/smt/pkg/dataset"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// Overflow says what happens to an example longer than the maximum length.
type Overflow int

const (
	// Truncate keeps the first MaxLen tokens.
	Truncate Overflow = iota
	// Drop leaves the example out.
	Drop
)

// String returns "truncate" or "drop".
func (o Overflow) String() string {
	if o == Drop {
		return "drop"
	}
	return "truncate"
}

// ParseOverflow parses "truncate" or "drop".
func ParseOverflow(s string) (Overflow, error) {
	switch s {
	case "truncate":
		return Truncate, nil
	case "drop":
		return Drop, nil
	}
	return 0, fmt.Errorf("overflow %q: want truncate or drop", s)
}

// BOSMode says whether a BOS id is put in front of every example.
type BOSMode int

const (
	// BOSAuto follows the template and the tokenizer (see ResolveBOS).
	BOSAuto BOSMode = iota
	// BOSYes always adds the tokenizer's BOS id.
	BOSYes
	// BOSNo never adds it (a literal "<s>" in the text still becomes BOS
	// when special tokens are parsed).
	BOSNo
)

// String returns "auto", "yes" or "no".
func (m BOSMode) String() string {
	switch m {
	case BOSYes:
		return "yes"
	case BOSNo:
		return "no"
	}
	return "auto"
}

// ParseBOSMode parses "auto", "yes" or "no".
func ParseBOSMode(s string) (BOSMode, error) {
	switch s {
	case "auto":
		return BOSAuto, nil
	case "yes", "true":
		return BOSYes, nil
	case "no", "false":
		return BOSNo, nil
	}
	return 0, fmt.Errorf("bos %q: want auto, yes or no", s)
}

// EvalSplit is the size of the held-out split: a fraction of the records
// (0 < Fraction < 1) or a count of them (Count > 0); the zero value means
// no eval split.
type EvalSplit struct {
	Fraction float64
	Count    int64
}

// IsZero reports whether no eval split is asked for.
func (e EvalSplit) IsZero() bool { return e.Fraction == 0 && e.Count == 0 }

// String returns the split as ParseEvalSplit reads it ("" for none).
func (e EvalSplit) String() string {
	switch {
	case e.Count > 0:
		return strconv.FormatInt(e.Count, 10)
	case e.Fraction > 0:
		return strconv.FormatFloat(e.Fraction, 'g', -1, 64)
	}
	return ""
}

// ParseEvalSplit reads an eval split: "" or "0" for none, a fraction
// ("0.2", "20%") or a whole count ("120").
func ParseEvalSplit(s string) (EvalSplit, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return EvalSplit{}, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || !(f > 0 && f < 100) {
			return EvalSplit{}, fmt.Errorf("eval split %q: a percentage must be between 0 and 100", s)
		}
		return EvalSplit{Fraction: f / 100}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return EvalSplit{}, fmt.Errorf("eval split %q: negative", s)
		}
		return EvalSplit{Count: n}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return EvalSplit{}, fmt.Errorf("eval split %q: want a fraction (0.2), a percentage (20%%) or a count (120)", s)
	}
	if !(f > 0 && f < 1) {
		return EvalSplit{}, fmt.Errorf("eval split %q: a fraction must be between 0 and 1 (exclusive); write a count without a decimal point", s)
	}
	return EvalSplit{Fraction: f}, nil
}

// Options configure Run. Tokenizer, Inputs and Out are required.
type Options struct {
	// Tokenizer encodes the text; TokenizerPath is recorded in the manifest.
	Tokenizer     *tokenizer.Tokenizer
	TokenizerPath string
	// Template is the prompt template's name (default prompt.Default).
	Template string
	// Inputs are the dataset files, read in order.
	Inputs []string
	// Format forces the layout of every input (default: detected).
	Format dataset.Format
	// Out is the shard directory to create (replaced if it holds shards).
	Out string
	// MaxLen is the longest example in tokens, EOS included (0: no limit).
	MaxLen int
	// Overflow says what happens to longer examples.
	Overflow Overflow
	// TrainOnInputs puts the prompt tokens in the loss too.
	TrainOnInputs bool
	// BOS says whether to add the BOS id (see ResolveBOS).
	BOS BOSMode
	// LiteralSpecial encodes special-token text such as "<s>" as ordinary
	// text (SentencePiece behaviour) instead of parsing it (Hugging Face
	// behaviour, the default).
	LiteralSpecial bool
	// EvalSplit is the held-out split; Seed chooses its records.
	EvalSplit EvalSplit
	Seed      int64
	// SkipBad skips (and counts) malformed records instead of failing.
	SkipBad bool
	// Uncompressed writes shards without zstd; ShardRecords is the most
	// records per shard file (0: the shards package default).
	Uncompressed bool
	ShardRecords int
	// Threads is the number of tokenizing goroutines (0: one per CPU).
	Threads int
	// Progress receives progress events (nil: none).
	Progress *cmdutil.Progress
}
