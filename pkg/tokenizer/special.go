package tokenizer

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token matched as a whole in text before the model runs:
// a tokenizer.json added token, or a CONTROL/UNKNOWN/USER_DEFINED piece of
// a SentencePiece model.
type AddedToken struct {
	ID      int32
	Content string
	// Special tokens (<s>, </s>, <|eot_id|>, ...) are recognised only with
	// EncodeOptions.ParseSpecial and skipped by Decode; other added tokens
	// are always recognised and always decoded.
	Special bool
	// LStrip and RStrip make the token absorb the whitespace on its left or
	// right; SingleWord matches it only when it is not inside a word
	// (Hugging Face AddedToken semantics).
	LStrip, RStrip, SingleWord bool
	// Normalized is tokenizer.json's "normalized" flag. It is kept for
	// reference; matching always happens on the raw text.
	Normalized bool
}

// matcher finds added tokens in text, leftmost-longest, with a byte trie.
type matcher struct {
	nodes  []trieNode
	tokens []AddedToken
	first  [256]bool
}

type trieNode struct {
	edges []trieEdge // sorted by byte
	tok   int32      // index in tokens, -1 if none
}

type trieEdge struct {
	b    byte
	next int32
}

func newMatcher(tokens []AddedToken) *matcher {
	if len(tokens) == 0 {
		return nil
	}
	m := &matcher{nodes: []trieNode{{tok: -1}}}
	for i, tk := range tokens {
		if tk.Content == "" {
			continue
		}
		m.first[tk.Content[0]] = true
		n := int32(0)
		for j := 0; j < len(tk.Content); j++ {
			n = m.child(n, tk.Content[j])
		}
		if m.nodes[n].tok < 0 {
			m.nodes[n].tok = int32(len(m.tokens))
			m.tokens = append(m.tokens, tokens[i])
		}
	}
	if len(m.tokens) == 0 {
		return nil
	}
	return m
}

func (m *matcher) child(n int32, b byte) int32 {
	e := m.nodes[n].edges
	i := sort.Search(len(e), func(i int) bool { return e[i].b >= b })
	if i < len(e) && e[i].b == b {
		return e[i].next
	}
	next := int32(len(m.nodes))
	m.nodes = append(m.nodes, trieNode{tok: -1})
	e = append(e, trieEdge{})
	copy(e[i+1:], e[i:])
	e[i] = trieEdge{b: b, next: next}
	m.nodes[n].edges = e
	return next
}

func (m *matcher) step(n int32, b byte) int32 {
	e := m.nodes[n].edges
	if len(e) <= 8 {
		for _, x := range e {
			if x.b == b {
				return x.next
			}
		}
		return -1
	}
	i := sort.Search(len(e), func(i int) bool { return e[i].b >= b })
	if i < len(e) && e[i].b == b {
		return e[i].next
	}
	return -1
}

// longest returns the length and token index of the longest token that
// is a prefix of s and passes ok, or (0, -1).
func (m *matcher) longest(s string, ok func(*AddedToken) bool) (int, int32) {
	n := int32(0)
	bestLen, best := 0, int32(-1)
	for i := 0; i < len(s); i++ {
		n = m.step(n, s[i])
		if n < 0 {
			break
		}
		if tk := m.nodes[n].tok; tk >= 0 && (ok == nil || ok(&m.tokens[tk])) {
			bestLen, best = i+1, tk
		}
	}
	return bestLen, best
}

// prefix returns the length and id of the longest token at the start of s,
// or (0, -1). It serves SentencePiece's user-defined symbols.
func (m *matcher) prefix(s string) (int, int32) {
	if len(s) == 0 || !m.first[s[0]] {
		return 0, -1
	}
	n, tk := m.longest(s, nil)
	if tk < 0 {
		return 0, -1
	}
	return n, m.tokens[tk].ID
}

// split walks text, calling fn for each piece of ordinary text (id -1,
// with its byte offset in text) and for each matched token (its id).
// Special tokens match only if special is true.
func (m *matcher) split(text string, special bool, fn func(seg string, off int, id int32)) {
	filter := func(tk *AddedToken) bool { return special || !tk.Special }
	start := 0 // start of pending ordinary text
	for i := 0; i < len(text); i++ {
		if !m.first[text[i]] {
			continue
		}
		n, tk := m.longest(text[i:], filter)
		if tk < 0 {
			continue
		}
		tok := &m.tokens[tk]
		ms, me := i, i+n
		if tok.SingleWord {
			if (ms > 0 && endsWithWord(text[:ms])) || (me < len(text) && startsWithWord(text[me:])) {
				i = me - 1
				continue
			}
		}
		if tok.LStrip {
			ms = max(start, ms-trailingSpace(text[start:ms]))
		}
		if tok.RStrip {
			me += leadingSpace(text[me:])
		}
		if ms > start {
			fn(text[start:ms], start, -1)
		}
		fn(text[ms:me], ms, tok.ID)
		start = me
		i = me - 1
	}
	if start < len(text) {
		fn(text[start:], start, -1)
	}
}

func isWordChar(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordChar(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordChar(r)
}

// trailingSpace returns the byte length of the whitespace at the end of s.
func trailingSpace(s string) int {
	n := len(s)
	for n > 0 {
		r, w := utf8.DecodeLastRuneInString(s[:n])
		if !unicode.IsSpace(r) {
			break
		}
		n -= w
	}
	return len(s) - n
}

// leadingSpace returns the byte length of the whitespace at the start of s.
func leadingSpace(s string) int {
	n := 0
	for n < len(s) {
		r, w := utf8.DecodeRuneInString(s[n:])
		if !unicode.IsSpace(r) {
			break
		}
		n += w
	}
	return n
}
