package tokenizer

import (
	"fmt"
	"sync"
)

// Kind says which encoding algorithm a Tokenizer runs.
type Kind int

const (
	// KindSentencePiece is SentencePiece BPE (from tokenizer.model or a
	// llama2.c tokenizer.bin): merges ordered by piece score, ties
	// leftmost, byte fallback after merging.
	KindSentencePiece Kind = iota + 1
	// KindBPE is Hugging Face BPE over SentencePiece-style pieces (from a
	// tokenizer.json with byte_fallback, as LLaMA-2 and Mistral ship it):
	// merges ordered by rank, byte fallback before merging.
	KindBPE
	// KindByteLevel is Hugging Face byte-level BPE (LLaMA-3's tokenizer.json).
	KindByteLevel
)

// String returns the name of the kind.
func (k Kind) String() string {
	switch k {
	case KindSentencePiece:
		return "sentencepiece-bpe"
	case KindBPE:
		return "hf-bpe"
	case KindByteLevel:
		return "hf-byte-level-bpe"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// PieceType is the type of a vocabulary entry, numbered as in
// SentencePiece's ModelProto.SentencePiece.Type.
type PieceType uint8

const (
	// Normal is an ordinary piece produced by merging.
	Normal PieceType = 1
	// Unknown is the unknown piece (<unk>).
	Unknown PieceType = 2
	// Control is a control symbol such as <s> or </s>; it has no surface text.
	Control PieceType = 3
	// UserDefined is a piece that SentencePiece always matches as a whole in
	// text; tokenizer.json added tokens that are not special get this type.
	UserDefined PieceType = 4
	// Unused is a piece that merging may produce but that is split back
	// into its parts on output.
	Unused PieceType = 5
	// Byte is a byte-fallback piece <0xNN>.
	Byte PieceType = 6
)

// String returns the SentencePiece name of the type.
func (p PieceType) String() string {
	switch p {
	case Normal:
		return "NORMAL"
	case Unknown:
		return "UNKNOWN"
	case Control:
		return "CONTROL"
	case UserDefined:
		return "USER_DEFINED"
	case Unused:
		return "UNUSED"
	case Byte:
		return "BYTE"
	}
	return fmt.Sprintf("PieceType(%d)", int(p))
}

// EncodeOptions control Encode.
type EncodeOptions struct {
	// ParseSpecial recognises special and added tokens (<s>, </s>, <unk>,
	// <|begin_of_text|>, added_tokens of tokenizer.json, ...) written
	// literally in the text, as Hugging Face tokenizers do. Without it,
	// "<s>" is ordinary text, as in SentencePiece. SentencePiece
	// USER_DEFINED pieces are always recognised.
	ParseSpecial bool
	// AddBOS prepends the BOS id (if the tokenizer has one).
	AddBOS bool
	// AddEOS appends the EOS id (if the tokenizer has one).
	AddEOS bool
}

// DecodeOptions control DecodeWith.
type DecodeOptions struct {
	// Special renders control and special tokens as their text ("<s>");
	// by default they are skipped, as SentencePiece and
	// skip_special_tokens=True do.
	Special bool
}

// prependScheme says which text segments get the dummy-prefix space.
type prependScheme uint8

const (
	prependAlways prependScheme = iota // every segment (SentencePiece, HF legacy)
	prependFirst                       // only the segment at the start of the input
	prependNever
)

// Tokenizer encodes text to token ids and decodes ids to text. Build one
// with Load or one of the Parse functions. It is safe for concurrent use.
type Tokenizer struct {
	kind   Kind
	source string // file it was loaded from, for messages

	pieces []string    // id → piece as stored in the vocabulary
	types  []PieceType // id → type
	scores []float32   // id → score (SentencePiece; zero otherwise)
	vocab  map[string]int32
	bytes  [][]byte // id → surface bytes for decoding

	unk, bos, eos, pad int32 // -1 when absent
	unkSurface         string

	// SentencePiece-style normalization.
	addDummyPrefix bool
	removeExtraWS  bool
	escapeWS       bool
	prepend        prependScheme
	metaspace      bool // HF Metaspace: no prefix when the segment starts with ▁
	metaspaceSplit bool // HF Metaspace split=true: BPE runs per ▁-word
	legacy         bool // LLaMA "legacy" flag as read from the config
	stripDecode    bool // decoding strips the dummy-prefix space

	byteFallback bool
	fuseUnk      bool
	ignoreMerges bool
	byteIDs      [256]int32 // <0xNN> piece ids, -1 when absent

	// Merge tables (bpe.go).
	m *merger

	// Special and added tokens (special.go).
	added       []AddedToken
	specials    *matcher // tokens recognised with ParseSpecial
	userDefined *matcher // SentencePiece USER_DEFINED pieces, always recognised

	alwaysMatch bool // some added token is matched even without ParseSpecial

	addBOS, addEOS bool

	// addedOnly marks ids that are tokenizer.json added tokens outside the
	// BPE model's vocabulary (nil when there are none).
	addedOnly []bool

	// Byte-level (bytelevel.go).
	rawVocab map[string]int32 // raw bytes of a piece → id (ignore_merges)
	byteSym  [256]int32       // id of the piece of each single byte

	cache *wordCache

	hashOnce sync.Once
	hash     string
}

// Kind returns the encoding algorithm.
func (t *Tokenizer) Kind() Kind { return t.kind }

// Source returns the path the tokenizer was loaded from ("" when parsed
// from memory).
func (t *Tokenizer) Source() string { return t.source }

// VocabSize returns the number of token ids (the largest id + 1, added
// tokens included).
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// BOS returns the beginning-of-sequence id, or -1.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence id, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// Unk returns the unknown-token id, or -1.
func (t *Tokenizer) Unk() int32 { return t.unk }

// Pad returns the padding id, or -1.
func (t *Tokenizer) Pad() int32 { return t.pad }

// AddsBOS reports whether the model's configuration asks for a BOS token
// in front of every encoded text (tokenizer_config.json add_bos_token, the
// tokenizer.json post-processor, or the LLaMA default for tokenizer.model).
func (t *Tokenizer) AddsBOS() bool { return t.addBOS && t.bos >= 0 }

// AddsEOS reports whether the configuration asks for an EOS token at the
// end of every encoded text.
func (t *Tokenizer) AddsEOS() bool { return t.addEOS && t.eos >= 0 }

// Legacy reports whether text after a special token gets its own dummy
// prefix (see the package documentation).
func (t *Tokenizer) Legacy() bool { return t.prepend == prependAlways }

// DefaultOptions returns the options a Hugging Face tokenizer call with
// add_special_tokens=True would use: special tokens parsed, BOS/EOS as the
// configuration says.
func (t *Tokenizer) DefaultOptions() EncodeOptions {
	return EncodeOptions{ParseSpecial: true, AddBOS: t.AddsBOS(), AddEOS: t.AddsEOS()}
}

// Piece returns the vocabulary string of id ("▁the", "<0x0A>", "Ġthe"),
// or "" when id is out of range.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// PieceType returns the type of id, or 0 when id is out of range.
func (t *Tokenizer) PieceType(id int32) PieceType {
	if id < 0 || int(id) >= len(t.types) {
		return 0
	}
	return t.types[id]
}

// Score returns the SentencePiece score of id (0 for other kinds).
func (t *Tokenizer) Score(id int32) float32 {
	if id < 0 || int(id) >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}

// ID returns the id of a vocabulary string (as Piece returns it).
func (t *Tokenizer) ID(piece string) (int32, bool) {
	id, ok := t.vocab[piece]
	return id, ok
}

// TokenBytes returns the bytes id stands for in decoded text: "▁" as a
// space, a byte piece as its byte, a byte-level piece as its raw bytes,
// and control tokens as nothing. The slice must not be modified.
func (t *Tokenizer) TokenBytes(id int32) []byte {
	if id < 0 || int(id) >= len(t.bytes) {
		return nil
	}
	return t.bytes[id]
}

// AddedTokens returns the added and special tokens (tokenizer.json
// added_tokens, or the CONTROL, UNKNOWN and USER_DEFINED pieces of a
// SentencePiece model).
func (t *Tokenizer) AddedTokens() []AddedToken {
	return append([]AddedToken(nil), t.added...)
}

// where formats the source for error messages.
func where(source string) string {
	if source == "" {
		return "tokenizer"
	}
	return source
}

// ByteFallback reports whether characters outside the vocabulary become
// their <0xNN> byte pieces (rather than unk).
func (t *Tokenizer) ByteFallback() bool { return t.byteFallback }
