package tokenizer

import (
	"sync"
	"unicode/utf8"
)

// This file holds the merge engine shared by all kinds: a doubly linked
// list of symbols over one chunk of text and a binary heap of candidate
// merges, with precomputed (left symbol, right symbol) → (rank, new id)
// tables. Two validity rules exist for a popped candidate, following the
// two reference implementations:
//
//   - SentencePiece (spMode): the candidate is valid while its left and
//     right symbols are unchanged (their byte lengths add up to the length
//     recorded when it was pushed). Rank = position of the merged piece's
//     score among all distinct scores, highest first; ties go leftmost.
//   - Hugging Face: the candidate is valid while the pair at its position
//     still merges into the recorded id. Rank = index in "merges"; ties
//     go leftmost.

// mergeEntry is what a pair of adjacent symbols merges into.
type mergeEntry struct {
	rank int32 // lower merges first
	id   int32 // id of the merged piece
}

// merger holds the merge tables of a tokenizer.
type merger struct {
	pairs  map[uint64]mergeEntry
	spMode bool
	// Initial symbols (SentencePiece mode): symbol id of a single character.
	// Ids below nvocab are vocabulary ids; ids from nvocab up stand for
	// characters that occur inside mergeable pieces but are no piece
	// themselves.
	ascii  [128]int32
	chars  map[string]int32
	nvocab int32
	// chunkable: no merge result contains U+2581 other than in a leading
	// run, so merging never crosses a "non-▁ | ▁" boundary and text can be
	// encoded chunk by chunk (and chunks cached).
	chunkable bool
}

func pairKey(l, r int32) uint64 { return uint64(uint32(l))<<32 | uint64(uint32(r)) }

func (m *merger) lookup(l, r int32) (mergeEntry, bool) {
	e, ok := m.pairs[pairKey(l, r)]
	return e, ok
}

// charSymbol returns the initial symbol id of the character s, or -1.
func (m *merger) charSymbol(s string) int32 {
	if len(s) == 1 && s[0] < utf8.RuneSelf {
		return m.ascii[s[0]]
	}
	if id, ok := m.chars[s]; ok {
		return id
	}
	return -1
}

// symbol is one element of the linked list.
type symbol struct {
	start, end int32 // byte range in the chunk
	id         int32 // symbol id, -1 when unknown
	prev, next int32
	frozen     bool // user-defined piece: never merged
}

// candidate is a possible merge in the heap.
type candidate struct {
	rank  int32
	left  int32 // symbol index
	right int32 // symbol index (SentencePiece mode)
	id    int32 // merged piece id
	size  int32 // merged byte length (SentencePiece mode)
}

func (a *candidate) less(b *candidate) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

// scratch holds the per-call buffers, pooled.
type scratch struct {
	syms []symbol
	heap []candidate
	norm []byte
	out  []int32
	rev  map[int32][2]int32 // SentencePiece UNUSED pieces: id → (left, right) symbol ids
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (s *scratch) push(c candidate) {
	h := append(s.heap, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	s.heap = h
}

func (s *scratch) pop() candidate {
	h := s.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(&h[l]) {
			m = r
		}
		if !h[m].less(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
	return top
}

// tryPush adds the pair (l, r) of symbol indices as a candidate if it merges.
func (t *Tokenizer) tryPush(sc *scratch, l, r int32) {
	if l < 0 || r < 0 {
		return
	}
	ls, rs := &sc.syms[l], &sc.syms[r]
	if ls.frozen || rs.frozen || ls.id < 0 || rs.id < 0 {
		return
	}
	e, ok := t.m.lookup(ls.id, rs.id)
	if !ok {
		return
	}
	sc.push(candidate{rank: e.rank, left: l, right: r, id: e.id, size: (ls.end - ls.start) + (rs.end - rs.start)})
	if t.m.spMode && t.types[e.id] == Unused {
		if sc.rev == nil {
			sc.rev = make(map[int32][2]int32)
		}
		sc.rev[e.id] = [2]int32{ls.id, rs.id}
	}
}

// mergeAll runs the merge loop over sc.syms (linked in order, first
// symbol at index 0).
func (t *Tokenizer) mergeAll(sc *scratch) {
	sc.heap = sc.heap[:0]
	for i := 0; i+1 < len(sc.syms); i++ {
		t.tryPush(sc, int32(i), int32(i+1))
	}
	syms := sc.syms
	for len(sc.heap) > 0 {
		c := sc.pop()
		ls := &syms[c.left]
		if ls.end == ls.start || ls.next < 0 {
			continue
		}
		if t.m.spMode {
			rs := &syms[c.right]
			if rs.end == rs.start || ls.next != c.right || (ls.end-ls.start)+(rs.end-rs.start) != c.size {
				continue
			}
		} else {
			e, ok := t.m.lookup(ls.id, syms[ls.next].id)
			if !ok || e.id != c.id {
				continue
			}
			c.right = ls.next
		}
		rs := &syms[c.right]
		ls.end = rs.end
		ls.id = c.id
		ls.next = rs.next
		rs.start = rs.end // mark removed
		if rs.next >= 0 {
			syms[rs.next].prev = c.left
		}
		t.tryPush(sc, ls.prev, c.left)
		t.tryPush(sc, c.left, ls.next)
	}
}

// appendSymbols appends the ids of the merged symbols of chunk to dst,
// resolving UNUSED pieces and unknown characters (SentencePiece mode).
func (t *Tokenizer) appendSymbols(dst []int32, sc *scratch, chunk string) []int32 {
	for i := int32(0); i >= 0 && int(i) < len(sc.syms); i = sc.syms[i].next {
		s := &sc.syms[i]
		dst = t.appendSymbol(dst, sc, s.id, chunk[s.start:s.end])
	}
	return dst
}

func (t *Tokenizer) appendSymbol(dst []int32, sc *scratch, id int32, text string) []int32 {
	if id >= 0 && id < t.m.nvocab && t.types[id] != Unknown {
		if t.types[id] == Unused && sc.rev != nil {
			if lr, ok := sc.rev[id]; ok {
				ll := t.symbolLen(lr[0], text)
				dst = t.appendSymbol(dst, sc, lr[0], text[:ll])
				return t.appendSymbol(dst, sc, lr[1], text[ll:])
			}
		}
		return append(dst, id)
	}
	if t.byteFallback {
		for j := 0; j < len(text); j++ {
			if b := t.byteIDs[text[j]]; b >= 0 {
				dst = append(dst, b)
			} else if t.unk >= 0 {
				dst = append(dst, t.unk)
			}
		}
		return dst
	}
	if t.unk >= 0 {
		dst = append(dst, t.unk)
	}
	return dst
}

// symbolLen returns the byte length of symbol id's text (a vocabulary
// piece or a single character) as a prefix of text.
func (t *Tokenizer) symbolLen(id int32, text string) int {
	if id >= 0 && id < t.m.nvocab {
		return len(t.pieces[id])
	}
	_, n := utf8.DecodeRuneInString(text)
	return n
}

// spEncodeChunk encodes one normalized chunk the SentencePiece way.
func (t *Tokenizer) spEncodeChunk(dst []int32, sc *scratch, chunk string) []int32 {
	syms := sc.syms[:0]
	for i := 0; i < len(chunk); {
		if t.userDefined != nil {
			if n, id := t.userDefined.prefix(chunk[i:]); n > 0 {
				syms = append(syms, symbol{start: int32(i), end: int32(i + n), id: id, frozen: true})
				i += n
				continue
			}
		}
		n := 1
		if chunk[i] >= utf8.RuneSelf {
			_, n = utf8.DecodeRuneInString(chunk[i:])
		}
		syms = append(syms, symbol{start: int32(i), end: int32(i + n), id: t.m.charSymbol(chunk[i : i+n])})
		i += n
	}
	for i := range syms {
		syms[i].prev = int32(i - 1)
		syms[i].next = int32(i + 1)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	sc.syms = syms
	if sc.rev != nil {
		clear(sc.rev)
	}
	t.mergeAll(sc)
	return t.appendSymbols(dst, sc, chunk)
}

// hfEncodeWord encodes one word the Hugging Face BPE way (KindBPE): each
// character is its piece, or its <0xNN> byte pieces (byte_fallback), or
// unk (consecutive unks fused with fuse_unk); then merges by rank.
func (t *Tokenizer) hfEncodeWord(dst []int32, sc *scratch, word string) []int32 {
	if t.ignoreMerges {
		if id, ok := t.vocab[word]; ok && !t.isAddedOnly(id) {
			return append(dst, id)
		}
	}
	syms := sc.syms[:0]
	unkOpen := false
	for i := 0; i < len(word); {
		n := 1
		if word[i] >= utf8.RuneSelf {
			_, n = utf8.DecodeRuneInString(word[i:])
		}
		c := word[i : i+n]
		if id := t.m.charSymbol(c); id >= 0 {
			syms = append(syms, symbol{start: int32(i), end: int32(i + n), id: id})
			unkOpen = false
			i += n
			continue
		}
		if t.byteFallback {
			all := true
			for j := 0; j < n; j++ {
				if t.byteIDs[c[j]] < 0 {
					all = false
					break
				}
			}
			if all {
				for j := 0; j < n; j++ {
					syms = append(syms, symbol{start: int32(i + j), end: int32(i + j + 1), id: t.byteIDs[c[j]]})
				}
				unkOpen = false
				i += n
				continue
			}
		}
		if t.unk >= 0 {
			if unkOpen && t.fuseUnk {
				syms[len(syms)-1].end = int32(i + n)
			} else {
				syms = append(syms, symbol{start: int32(i), end: int32(i + n), id: t.unk})
				unkOpen = true
			}
		}
		i += n
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

// isAddedOnly reports whether id is an added token that is not part of
// the model's own vocabulary (HF keeps those out of the BPE model).
func (t *Tokenizer) isAddedOnly(id int32) bool {
	return t.addedOnly != nil && t.addedOnly[id]
}
