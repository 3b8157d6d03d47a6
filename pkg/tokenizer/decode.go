package tokenizer

import (
	"unicode/utf8"
)

// Decode returns the text of ids, skipping control and special tokens.
// SentencePiece tokenizers turn "▁" into a space, collect <0xNN> pieces
// into raw bytes decoded as UTF-8 (each malformed byte becomes U+FFFD),
// and remove the dummy-prefix space of the first piece; byte-level
// tokenizers map the pieces back to bytes. Ids out of range are skipped.
func (t *Tokenizer) Decode(ids []int32) string {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeWith is Decode with options.
func (t *Tokenizer) DecodeWith(ids []int32, opts DecodeOptions) string {
	switch t.kind {
	case KindByteLevel:
		return t.decodeByteLevel(ids, opts)
	case KindBPE:
		return t.decodeHFBPE(ids, opts)
	}
	return t.decodeSP(ids, opts)
}

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.pieces) }

// decodeSP follows SentencePiece's DecodeIds: control pieces are
// invisible and do not count as the first piece; the first other piece
// loses a leading "▁" (when the model adds a dummy prefix).
func (t *Tokenizer) decodeSP(ids []int32, opts DecodeOptions) string {
	out := make([]byte, 0, 4*len(ids))
	bosWS := t.stripDecode
	for i := 0; i < len(ids); i++ {
		id := ids[i]
		if !t.valid(id) {
			continue
		}
		switch t.types[id] {
		case Control:
			if opts.Special {
				out = append(out, t.pieces[id]...)
				bosWS = false
			}
		case Unknown:
			if opts.Special {
				out = append(out, t.pieces[id]...)
			} else {
				out = append(out, t.unkSurface...)
			}
			bosWS = false
		case Byte:
			var raw []byte
			for ; i < len(ids) && t.valid(ids[i]) && t.types[ids[i]] == Byte; i++ {
				raw = append(raw, t.bytes[ids[i]]...)
			}
			i--
			out = appendUTF8PerByte(out, raw)
			bosWS = false
		default:
			b := t.bytes[id]
			if bosWS {
				if len(b) > 0 && b[0] == ' ' && len(t.pieces[id]) > 0 && t.pieces[id][0] == spaceSymbol[0] {
					b = b[1:]
				}
				if t.removeExtraWS {
					for len(b) > 0 && b[0] == ' ' {
						b = b[1:]
					}
				}
				bosWS = false
			}
			out = append(out, b...)
		}
	}
	return string(out)
}

// decodeHFBPE follows the Hugging Face decoder of LLaMA-2/Mistral
// tokenizer.json: Replace(▁, " "), ByteFallback (a run of byte tokens that
// is not valid UTF-8 becomes one U+FFFD per token), Fuse, Strip(1 leading
// space).
func (t *Tokenizer) decodeHFBPE(ids []int32, opts DecodeOptions) string {
	out := make([]byte, 0, 4*len(ids))
	for i := 0; i < len(ids); i++ {
		id := ids[i]
		if !t.valid(id) {
			continue
		}
		switch t.types[id] {
		case Control, Unknown:
			if opts.Special {
				out = append(out, t.pieces[id]...)
			}
		case Byte:
			var raw []byte
			n := 0
			for ; i < len(ids) && t.valid(ids[i]) && t.types[ids[i]] == Byte; i++ {
				raw = append(raw, t.bytes[ids[i]]...)
				n++
			}
			i--
			if utf8.Valid(raw) {
				out = append(out, raw...)
			} else {
				for ; n > 0; n-- {
					out = append(out, "\uFFFD"...)
				}
			}
		default:
			out = append(out, t.bytes[id]...)
		}
	}
	if t.stripDecode && len(out) > 0 && out[0] == ' ' {
		out = out[1:]
	}
	return string(out)
}

// decodeByteLevel concatenates the raw bytes of the tokens and decodes
// them as UTF-8 the way Rust's String::from_utf8_lossy does.
func (t *Tokenizer) decodeByteLevel(ids []int32, opts DecodeOptions) string {
	raw := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		if !t.valid(id) {
			continue
		}
		switch t.types[id] {
		case Control, Unknown:
			if opts.Special {
				raw = append(raw, t.pieces[id]...)
			}
		default:
			raw = append(raw, t.bytes[id]...)
		}
	}
	if utf8.Valid(raw) {
		return string(raw)
	}
	return string(appendUTF8Lossy(nil, raw))
}

// appendUTF8PerByte appends b with every byte that does not start a valid
// UTF-8 sequence replaced by U+FFFD (SentencePiece's rule).
func appendUTF8PerByte(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

// appendUTF8Lossy appends b with every maximal ill-formed subsequence
// replaced by one U+FFFD (the Unicode "maximal subpart" practice, as in
// Rust's from_utf8_lossy and JavaScript's TextDecoder).
func appendUTF8Lossy(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			dst = append(dst, b[:n]...)
			b = b[n:]
			continue
		}
		dst = append(dst, "\uFFFD"...)
		b = b[maximalSubpart(b):]
	}
	return dst
}

// maximalSubpart returns the length of the ill-formed prefix of b that is
// replaced by one U+FFFD.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 && (x < lo || x > hi) {
			break
		}
		if k > 0 && (x < 0x80 || x > 0xBF) {
			break
		}
		n++
	}
	return n
}

// DecodePiece returns the bytes to print for token cur when it follows
// token prev, as llama2.c's decode does: a <0xNN> piece is its raw byte,
// control tokens print nothing, and the leading space of a piece right
// after BOS is dropped. The result may be part of a UTF-8 sequence; use a
// StreamDecoder to get whole characters.
func (t *Tokenizer) DecodePiece(prev, cur int32) []byte {
	if !t.valid(cur) {
		return nil
	}
	switch t.types[cur] {
	case Control, Unknown:
		if t.types[cur] == Unknown && t.kind == KindSentencePiece {
			return []byte(t.unkSurface)
		}
		return nil
	}
	b := t.bytes[cur]
	if prev >= 0 && prev == t.bos && t.stripDecode && t.kind != KindByteLevel && len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// StreamDecoder turns generated ids into text as they arrive, holding back
// bytes until they form whole UTF-8 characters.
type StreamDecoder struct {
	t       *Tokenizer
	prev    int32
	pending []byte
}

// NewStreamDecoder returns a StreamDecoder. Feed it the prompt ids too
// (or at least the last one) so that the space after BOS is handled.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t, prev: -1}
}

// Next adds id and returns the text that is now complete (possibly "").
func (d *StreamDecoder) Next(id int32) string {
	d.pending = append(d.pending, d.t.DecodePiece(d.prev, id)...)
	d.prev = id
	// Emit everything up to the last position where a complete or
	// definitely malformed sequence ends.
	n := len(d.pending)
	cut := n
	for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
		if utf8.RuneStart(d.pending[i]) {
			if !utf8.FullRune(d.pending[i:]) {
				cut = i
			}
			break
		}
	}
	out := string(appendUTF8Lossy(nil, d.pending[:cut]))
	d.pending = append(d.pending[:0], d.pending[cut:]...)
	return out
}

// Flush returns the bytes still held back (an incomplete sequence, as
// U+FFFD) and resets the pending state.
func (d *StreamDecoder) Flush() string {
	out := string(appendUTF8Lossy(nil, d.pending))
	d.pending = d.pending[:0]
	return out
}
