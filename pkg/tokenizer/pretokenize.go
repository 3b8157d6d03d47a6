package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// llama3Pattern is the pre-tokenizer split pattern of LLaMA-3's
// tokenizer.json. Go's regexp has no lookahead, so nextLlama3Word below
// implements it by hand; tests check it against a backtracking engine.
const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// Character classes of the pattern, for ASCII by table.
const (
	clsL     = 1 << iota // \p{L}
	clsN                 // \p{N}
	clsSpace             // \s (Unicode White_Space)
	clsNL                // \r or \n
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		asciiClass[c] = runeClass(rune(c))
	}
}

func runeClass(r rune) uint8 {
	var c uint8
	switch {
	case unicode.IsLetter(r):
		c = clsL
	case unicode.IsNumber(r):
		c = clsN
	case unicode.IsSpace(r):
		c = clsSpace
		if r == '\r' || r == '\n' {
			c |= clsNL
		}
	}
	return c
}

// classAt returns the class and width of the character at s[i]. Malformed
// UTF-8 bytes count as one symbol character each.
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && w == 1 {
		return 0, 1
	}
	return runeClass(r), w
}

// contraction returns the length of a contraction suffix ('s 't 're 've
// 'm 'll 'd, case-insensitive with Unicode simple case folding, so "ſ"
// matches "s") at the start of s (just after the apostrophe), or 0.
func contraction(s string) int {
	if len(s) == 0 {
		return 0
	}
	if len(s) >= 2 && s[0] == 0xC5 && s[1] == 0xBF { // U+017F LATIN SMALL LETTER LONG S
		return 2
	}
	switch s[0] | 0x20 {
	case 's', 't', 'm', 'd':
		if s[0] >= 'A' {
			return 1
		}
	case 'r', 'v':
		if len(s) >= 2 && s[1]|0x20 == 'e' && s[1] >= 'A' {
			return 2
		}
	case 'l':
		if len(s) >= 2 && s[1]|0x20 == 'l' && s[1] >= 'A' {
			return 2
		}
	}
	return 0
}

// nextLlama3Word returns the end of the pattern's match starting at s[i]
// (i < len(s)); matches are tried alternative by alternative, as a
// backtracking regex engine does.
func nextLlama3Word(s string, i int) int {
	c0, w0 := classAt(s, i)
	// 1: (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if s[i] == '\'' {
		if n := contraction(s[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	// 2: [^\r\n\p{L}\p{N}]?\p{L}+
	if c0&clsL != 0 {
		return letters(s, i)
	}
	if c0&(clsN|clsNL) == 0 && i+w0 < len(s) {
		if c1, _ := classAt(s, i+w0); c1&clsL != 0 {
			return letters(s, i+w0)
		}
	}
	// 3: \p{N}{1,3}
	if c0&clsN != 0 {
		j := i + w0
		for k := 1; k < 3 && j < len(s); k++ {
			c, w := classAt(s, j)
			if c&clsN == 0 {
				break
			}
			j += w
		}
		return j
	}
	// 4: ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := i
	if s[i] == ' ' {
		j++
	}
	k := j
	for k < len(s) {
		c, w := classAt(s, k)
		if c&(clsL|clsN|clsSpace) != 0 {
			break
		}
		k += w
	}
	if k > j {
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k
	}
	if c0&clsSpace == 0 {
		return i + w0 // unreachable: every character is L, N, \s or other
	}
	// 5: \s*[\r\n]+ — the whitespace run up to its last newline.
	end, lastNL, lastStart := i, -1, i
	for end < len(s) {
		c, w := classAt(s, end)
		if c&clsSpace == 0 {
			break
		}
		if c&clsNL != 0 {
			lastNL = end
		}
		lastStart = end
		end += w
	}
	if lastNL >= 0 {
		return lastNL + 1
	}
	// 6: \s+(?!\S) — the run, less its last character if text follows.
	if end == len(s) {
		return end
	}
	if lastStart > i {
		return lastStart
	}
	// 7: \s+
	return end
}

// letters returns the end of the run of letters starting at s[i].
func letters(s string, i int) int {
	for i < len(s) {
		c, w := classAt(s, i)
		if c&clsL == 0 {
			break
		}
		i += w
	}
	return i
}
