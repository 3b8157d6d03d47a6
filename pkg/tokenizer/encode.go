package tokenizer

import (
	"strings"
	"unicode/utf8"
	"unsafe"
)

// spaceSymbol is U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's escaped space.
const spaceSymbol = "\u2581"

// Encode returns the token ids of text.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) []int32 {
	return t.AppendEncode(nil, text, opts)
}

// AppendEncode appends the token ids of text to dst and returns the
// extended slice.
func (t *Tokenizer) AppendEncode(dst []int32, text string, opts EncodeOptions) []int32 {
	if opts.AddBOS && t.bos >= 0 {
		dst = append(dst, t.bos)
	}
	sc := scratchPool.Get().(*scratch)
	if t.specials != nil && (opts.ParseSpecial || t.alwaysMatch) {
		t.specials.split(text, opts.ParseSpecial, func(seg string, off int, id int32) {
			if id >= 0 {
				dst = append(dst, id)
				return
			}
			dst = t.encodeSegment(dst, sc, seg, off == 0)
		})
	} else {
		dst = t.encodeSegment(dst, sc, text, true)
	}
	scratchPool.Put(sc)
	if opts.AddEOS && t.eos >= 0 {
		dst = append(dst, t.eos)
	}
	return dst
}

// encodeSegment encodes text that contains no added token. atStart tells
// whether the segment begins at the start of the input.
func (t *Tokenizer) encodeSegment(dst []int32, sc *scratch, seg string, atStart bool) []int32 {
	if seg == "" {
		return dst
	}
	if t.kind == KindByteLevel {
		return t.encodeByteLevel(dst, sc, seg)
	}
	sc.norm = t.normalize(sc.norm[:0], seg, atStart)
	if len(sc.norm) == 0 {
		return dst
	}
	// The string aliases sc.norm, which is not touched again until this
	// function returns; cache keys are cloned.
	s := unsafe.String(unsafe.SliceData(sc.norm), len(sc.norm))
	switch {
	case t.metaspaceSplit:
		// Hugging Face Metaspace split=true: every ▁ starts a new word.
		for len(s) > 0 {
			n := strings.Index(s[1:], spaceSymbol)
			if n < 0 {
				n = len(s)
			} else {
				n++
			}
			dst = t.encodeChunk(dst, sc, s[:n])
			s = s[n:]
		}
	case t.m.chunkable:
		for len(s) > 0 {
			n := nextChunk(s)
			dst = t.encodeChunk(dst, sc, s[:n])
			s = s[n:]
		}
	default:
		dst = t.encodeChunk(dst, sc, s)
	}
	return dst
}

// nextChunk returns the length of the first chunk of s: a run of ▁
// followed by everything up to the next ▁.
func nextChunk(s string) int {
	i := 0
	for strings.HasPrefix(s[i:], spaceSymbol) {
		i += len(spaceSymbol)
	}
	if n := strings.Index(s[i:], spaceSymbol); n >= 0 {
		return i + n
	}
	return len(s)
}

// encodeChunk encodes one chunk of normalized text through the cache.
func (t *Tokenizer) encodeChunk(dst []int32, sc *scratch, chunk string) []int32 {
	if len(chunk) > maxCachedLen || t.cache == nil {
		return t.encodeChunkNoCache(dst, sc, chunk)
	}
	ids, h, ok := t.cache.get(chunk)
	if ok {
		return append(dst, ids...)
	}
	n := len(dst)
	dst = t.encodeChunkNoCache(dst, sc, chunk)
	t.cache.put(h, chunk, dst[n:])
	return dst
}

func (t *Tokenizer) encodeChunkNoCache(dst []int32, sc *scratch, chunk string) []int32 {
	if t.kind == KindSentencePiece {
		return t.spEncodeChunk(dst, sc, chunk)
	}
	return t.hfEncodeWord(dst, sc, chunk)
}

// normalize applies the SentencePiece-style normalization to one segment:
// optional removal of extra spaces, the dummy prefix, spaces to ▁, and
// malformed UTF-8 bytes to U+FFFD (one per byte, as SentencePiece does).
func (t *Tokenizer) normalize(buf []byte, text string, atStart bool) []byte {
	if t.removeExtraWS {
		text = strings.Trim(text, " ")
	}
	if text == "" {
		return buf
	}
	space := " "
	if t.escapeWS {
		space = spaceSymbol
	}
	prefix := t.addDummyPrefix && (t.prepend == prependAlways || (t.prepend == prependFirst && atStart))
	if prefix && t.metaspace && (text[0] == ' ' || strings.HasPrefix(text, spaceSymbol)) {
		prefix = false
	}
	if prefix {
		buf = append(buf, space...)
	}
	prevSpace := false
	for i := 0; i < len(text); {
		c := text[i]
		if c == ' ' {
			if !(t.removeExtraWS && prevSpace) {
				buf = append(buf, space...)
			}
			prevSpace = true
			i++
			continue
		}
		prevSpace = false
		if c < utf8.RuneSelf {
			buf = append(buf, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && n == 1 {
			buf = append(buf, "\uFFFD"...)
		} else {
			buf = append(buf, text[i:i+n]...)
		}
		i += n
	}
	return buf
}
