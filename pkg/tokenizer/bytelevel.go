package tokenizer

import (
	"unicode/utf8"
)

// Byte-level BPE (GPT-2 style, as LLaMA-3 uses it): every byte of the
// text is written as a printable character before BPE, so pieces are
// strings over a 256-character alphabet. Printable Latin-1 bytes
// ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes
// map, in byte order, to U+0100, U+0101, ...

var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
)

func init() {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 256 + n
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelEncode maps raw bytes to their byte-level string.
func byteLevelEncode(raw string) string {
	buf := make([]byte, 0, 2*len(raw))
	for i := 0; i < len(raw); i++ {
		buf = utf8.AppendRune(buf, byteToRune[raw[i]])
	}
	return string(buf)
}

// byteLevelDecode maps a byte-level string back to raw bytes; ok is false
// if it holds a character outside the alphabet.
func byteLevelDecode(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := runeToByte[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// encodeByteLevel pre-tokenizes a segment and encodes each word.
func (t *Tokenizer) encodeByteLevel(dst []int32, sc *scratch, seg string) []int32 {
	for i := 0; i < len(seg); {
		j := nextLlama3Word(seg, i)
		dst = t.encodeByteWord(dst, sc, seg[i:j])
		i = j
	}
	return dst
}

func (t *Tokenizer) encodeByteWord(dst []int32, sc *scratch, word string) []int32 {
	if len(word) > maxCachedLen || t.cache == nil {
		return t.byteWordNoCache(dst, sc, word)
	}
	ids, h, ok := t.cache.get(word)
	if ok {
		return append(dst, ids...)
	}
	n := len(dst)
	dst = t.byteWordNoCache(dst, sc, word)
	t.cache.put(h, word, dst[n:])
	return dst
}

// byteWordNoCache runs Hugging Face BPE on the bytes of word.
func (t *Tokenizer) byteWordNoCache(dst []int32, sc *scratch, word string) []int32 {
	if t.ignoreMerges {
		if id, ok := t.rawVocab[word]; ok {
			return append(dst, id)
		}
	}
	syms := sc.syms[:0]
	unkOpen := false
	for i := 0; i < len(word); i++ {
		id := t.byteSym[word[i]]
		if id >= 0 {
			syms = append(syms, symbol{start: int32(i), end: int32(i + 1), id: id})
			unkOpen = false
			continue
		}
		if t.unk >= 0 {
			if unkOpen && t.fuseUnk {
				syms[len(syms)-1].end = int32(i + 1)
			} else {
				syms = append(syms, symbol{start: int32(i), end: int32(i + 1), id: t.unk})
				unkOpen = true
			}
		}
	}
	for i := range syms {
		syms[i].prev = int32(i - 1)
		syms[i].next = int32(i + 1)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	sc.syms = syms
	t.mergeAll(sc)
	for i := int32(0); i >= 0 && int(i) < len(sc.syms); i = sc.syms[i].next {
		dst = append(dst, sc.syms[i].id)
	}
	return dst
}
