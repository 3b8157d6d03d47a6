package tokenize

import (
	"fmt"
	"slices"

	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/shards"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// Outcome says what Encode did with a record.
type Outcome uint8

const (
	// Kept: the example fits.
	Kept Outcome = iota
	// Truncated: the example was cut to MaxLen tokens.
	Truncated
	// Dropped: the example is longer than MaxLen and was left out.
	Dropped
)

// EncoderConfig configures an Encoder.
type EncoderConfig struct {
	MaxLen         int
	Overflow       Overflow
	TrainOnInputs  bool
	BOS            BOSMode
	LiteralSpecial bool
}

// Encoder turns records into training examples. It is safe for concurrent
// use.
type Encoder struct {
	tok  *tokenizer.Tokenizer
	tmpl prompt.Template
	cfg  EncoderConfig
	opts tokenizer.EncodeOptions
	eos  int32
	why  string
}

// NewEncoder returns an Encoder for tok and tmpl. The tokenizer must have
// an EOS id.
func NewEncoder(tok *tokenizer.Tokenizer, tmpl prompt.Template, cfg EncoderConfig) (*Encoder, error) {
	if tok.EOS() < 0 {
		return nil, fmt.Errorf("tokenize: tokenizer %s has no EOS token to end the responses with", tok.Source())
	}
	if cfg.MaxLen < 0 {
		return nil, fmt.Errorf("tokenize: max length %d is negative", cfg.MaxLen)
	}
	addBOS, why := ResolveBOS(tok, tmpl, cfg.BOS, !cfg.LiteralSpecial)
	return &Encoder{
		tok: tok, tmpl: tmpl, cfg: cfg, eos: tok.EOS(), why: why,
		opts: tokenizer.EncodeOptions{ParseSpecial: !cfg.LiteralSpecial, AddBOS: addBOS},
	}, nil
}

// AddsBOS reports whether Encode puts the BOS id in front of the text.
func (e *Encoder) AddsBOS() bool { return e.opts.AddBOS }

// BOSReason says in words why BOS is or is not added.
func (e *Encoder) BOSReason() string { return e.why }

// EncodeOptions returns the options every text is encoded with.
func (e *Encoder) EncodeOptions() tokenizer.EncodeOptions { return e.opts }

// ResolveBOS decides whether a BOS id goes in front of every example.
// BOSYes and BOSNo decide by themselves (BOSYes needs a tokenizer with a
// BOS id). BOSAuto:
//
//   - a template whose AddBOS is true (llm-adapters, alpaca, raw) gets BOS
//     when the tokenizer's configuration adds one (tokenizer.AddsBOS), as a
//     Hugging Face tokenizer called with add_special_tokens=True does;
//   - the smt template, whose text starts with a literal "<s>", gets no
//     extra BOS when special tokens are parsed and the tokenizer reads
//     "<s>" as its BOS id (LLaMA-1/2, Mistral, the stories models): the
//     reference loads those tokenizers with add_bos_token=False. With a
//     tokenizer whose BOS is something else (LLaMA-3's
//     <|begin_of_text|>), the "<s> " stays ordinary text and BOS is added
//     as the tokenizer's configuration says.
func ResolveBOS(tok *tokenizer.Tokenizer, tmpl prompt.Template, mode BOSMode, parseSpecial bool) (bool, string) {
	switch mode {
	case BOSYes:
		return tok.BOS() >= 0, "--bos yes"
	case BOSNo:
		return false, "--bos no"
	}
	if tmpl.AddBOS() {
		if tok.AddsBOS() {
			return true, "the tokenizer's configuration adds BOS"
		}
		return false, "the tokenizer's configuration adds no BOS"
	}
	if parseSpecial && tok.BOS() >= 0 && slices.Equal(tok.Encode("<s>", tokenizer.EncodeOptions{ParseSpecial: true}), []int32{tok.BOS()}) {
		return false, `the template's literal "<s>" is the BOS token`
	}
	if tok.AddsBOS() {
		return true, `the template's "<s>" is not this tokenizer's BOS; the tokenizer's configuration adds BOS`
	}
	return false, `the template's "<s>" is not this tokenizer's BOS, and its configuration adds none`
}

// Encode renders rec with the template and tokenizes it into ex, reusing
// ex.IDs and ex.Mask (ex.Record is left alone). A Dropped example's
// contents are unspecified. prompt is len(tokens(source)).
func (e *Encoder) Encode(rec prompt.Record, ex *shards.Example) (out Outcome, promptLen int) {
	source, target := e.tmpl.Train(rec)
	ids := e.tok.AppendEncode(ex.IDs[:0], source+target, e.opts)
	n := len(ids)
	// Encode the source after the full text in the same buffer to count
	// its tokens without another allocation.
	ids = e.tok.AppendEncode(ids, source, e.opts)
	promptLen = len(ids) - n
	ids = append(ids[:n], e.eos)
	out = Kept
	if e.cfg.MaxLen > 0 && len(ids) > e.cfg.MaxLen {
		if e.cfg.Overflow == Drop {
			ex.IDs = ids
			return Dropped, promptLen
		}
		ids = ids[:e.cfg.MaxLen]
		out = Truncated
	}
	mask := slices.Grow(ex.Mask[:0], len(ids))[:len(ids)]
	for t := range mask {
		if e.cfg.TrainOnInputs || t >= promptLen {
			mask[t] = 1
		} else {
			mask[t] = 0
		}
	}
	if len(mask) > 0 {
		mask[0] = 0
	}
	ex.IDs, ex.Mask = ids, mask
	return out, promptLen
}
