package tokenizer

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// ParseSentencePiece builds a tokenizer from the bytes of a SentencePiece
// tokenizer.model (a serialized ModelProto). Only BPE models with the
// identity normalizer are supported. source names the file in errors.
func ParseSentencePiece(data []byte, source string) (*Tokenizer, error) {
	m, err := parseSPModel(data)
	if err != nil {
		return nil, fmt.Errorf("%s: SentencePiece model: %w", where(source), err)
	}
	t, err := newFromSPModel(m, source)
	if err != nil {
		return nil, fmt.Errorf("%s: SentencePiece model: %w", where(source), err)
	}
	return t, nil
}

// newFromSPModel checks the model and builds the tokenizer.
func newFromSPModel(m *spModel, source string) (*Tokenizer, error) {
	if m.modelType != spModelBPE {
		name := map[int32]string{1: "UNIGRAM", 3: "WORD", 4: "CHAR"}[m.modelType]
		return nil, fmt.Errorf("trainer_spec.model_type %d %s is not supported (only BPE)", m.modelType, name)
	}
	if len(m.precompiledCharsmap) > 0 || m.normRuleTSV != "" {
		return nil, fmt.Errorf("normalizer_spec %q has normalization rules; only the identity normalizer is supported", m.normName)
	}
	if m.treatWhitespaceAsSuffix {
		return nil, fmt.Errorf("trainer_spec.treat_whitespace_as_suffix is not supported")
	}
	n := len(m.pieces)
	if n > math.MaxInt32/2 {
		return nil, fmt.Errorf("too many pieces (%d)", n)
	}
	t := &Tokenizer{
		kind:           KindSentencePiece,
		source:         source,
		pieces:         make([]string, n),
		types:          make([]PieceType, n),
		scores:         make([]float32, n),
		vocab:          make(map[string]int32, n),
		unk:            -1,
		bos:            -1,
		eos:            -1,
		pad:            -1,
		unkSurface:     m.unkSurface,
		addDummyPrefix: m.addDummyPrefix,
		removeExtraWS:  m.removeExtraWS,
		escapeWS:       m.escapeWS,
		stripDecode:    m.addDummyPrefix || m.removeExtraWS,
		byteFallback:   m.byteFallback,
		addBOS:         true,
		legacy:         true,
	}
	for i := range t.byteIDs {
		t.byteIDs[i] = -1
	}
	for i, p := range m.pieces {
		id := int32(i)
		if p.piece == "" {
			return nil, fmt.Errorf("pieces[%d]: empty piece", i)
		}
		if prev, dup := t.vocab[p.piece]; dup {
			return nil, fmt.Errorf("pieces[%d]: piece %q is already defined as pieces[%d]", i, p.piece, prev)
		}
		t.vocab[p.piece] = id
		t.pieces[i], t.types[i], t.scores[i] = p.piece, p.typ, p.score
		switch p.typ {
		case Unknown:
			if t.unk >= 0 {
				return nil, fmt.Errorf("pieces[%d]: second UNKNOWN piece %q (first is pieces[%d])", i, p.piece, t.unk)
			}
			t.unk = id
		case Byte:
			if !m.byteFallback {
				return nil, fmt.Errorf("pieces[%d]: BYTE piece %q but trainer_spec.byte_fallback is false", i, p.piece)
			}
			b, ok := parseBytePiece(p.piece)
			if !ok {
				return nil, fmt.Errorf("pieces[%d]: BYTE piece %q is not of the form <0xNN>", i, p.piece)
			}
			t.byteIDs[b] = id
		}
	}
	if t.unk < 0 {
		return nil, fmt.Errorf("no UNKNOWN piece (trainer_spec.unk_id %d)", m.unkID)
	}
	if m.unkID != t.unk {
		return nil, fmt.Errorf("trainer_spec.unk_id %d but the UNKNOWN piece is pieces[%d]", m.unkID, t.unk)
	}
	check := func(name string, id int32) (int32, error) {
		if id < 0 {
			return -1, nil
		}
		if int(id) >= n {
			return -1, fmt.Errorf("trainer_spec.%s %d is out of range (%d pieces)", name, id, n)
		}
		return id, nil
	}
	var err error
	if t.bos, err = check("bos_id", m.bosID); err != nil {
		return nil, err
	}
	if t.eos, err = check("eos_id", m.eosID); err != nil {
		return nil, err
	}
	if t.pad, err = check("pad_id", m.padID); err != nil {
		return nil, err
	}
	if m.byteFallback {
		for b, id := range t.byteIDs {
			if id < 0 {
				return nil, fmt.Errorf("trainer_spec.byte_fallback is true but piece <0x%02X> is missing", b)
			}
		}
	}
	var user []AddedToken
	for i, p := range m.pieces {
		switch p.typ {
		case Control, Unknown:
			t.added = append(t.added, AddedToken{ID: int32(i), Content: p.piece, Special: true})
		case UserDefined:
			tk := AddedToken{ID: int32(i), Content: p.piece}
			t.added = append(t.added, tk)
			user = append(user, tk)
		}
	}
	var specials []AddedToken
	for _, a := range t.added {
		if a.Special {
			specials = append(specials, a)
		}
	}
	t.specials = newMatcher(specials)
	t.userDefined = newMatcher(user)
	t.buildSPMerges()
	t.finish()
	return t, nil
}

// parseBytePiece parses "<0xNN>".
func parseBytePiece(s string) (byte, bool) {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return 0, false
	}
	var v byte
	for _, c := range []byte(s[3:5]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}

// mergeable reports whether SentencePiece's BPE may produce a piece of
// this type by merging (its pieces_ map).
func mergeable(t PieceType) bool { return t == Normal || t == UserDefined || t == Unused }

// buildSPMerges builds the pair table: every split of every mergeable
// piece into two known symbols, ranked by the piece's score.
func (t *Tokenizer) buildSPMerges() {
	n := int32(len(t.pieces))
	m := &merger{spMode: true, nvocab: n, chars: make(map[string]int32)}
	for i := range m.ascii {
		m.ascii[i] = -1
	}
	// Rank of each distinct score, highest first (NaN last).
	scores := make([]float32, 0, len(t.scores))
	for _, s := range t.scores {
		scores = append(scores, s)
	}
	key := func(s float32) float32 {
		if s != s {
			return float32(math.Inf(-1))
		}
		return s
	}
	sort.Slice(scores, func(i, j int) bool { return key(scores[i]) > key(scores[j]) })
	rank := make(map[float32]int32, len(scores))
	r := int32(0)
	for i, s := range scores {
		if i > 0 && key(s) != key(scores[i-1]) {
			r++
		}
		if _, ok := rank[key(s)]; !ok {
			rank[key(s)] = r
		}
	}
	// Symbols: every piece string, plus characters of mergeable pieces.
	symID := func(s string) int32 {
		if id, ok := t.vocab[s]; ok {
			return id
		}
		if utf8.RuneCountInString(s) == 1 {
			if id, ok := m.chars[s]; ok {
				return id
			}
		}
		return -1
	}
	next := n
	for id, p := range t.pieces {
		if !mergeable(t.types[id]) {
			continue
		}
		for _, c := range p {
			cs := string(c)
			if _, ok := t.vocab[cs]; ok {
				continue
			}
			if _, ok := m.chars[cs]; !ok {
				m.chars[cs] = next
				next++
			}
		}
	}
	for id, p := range t.pieces {
		if utf8.RuneCountInString(p) == 1 {
			if len(p) == 1 && p[0] < utf8.RuneSelf {
				m.ascii[p[0]] = int32(id)
			} else {
				m.chars[p] = int32(id)
			}
		}
	}
	m.pairs = make(map[uint64]mergeEntry, 4*len(t.pieces))
	m.chunkable = true
	for id, p := range t.pieces {
		if !mergeable(t.types[id]) {
			continue
		}
		if strings.Contains(strings.TrimLeft(p, spaceSymbol), spaceSymbol) {
			m.chunkable = false
		}
		for k := range p {
			if k == 0 {
				continue
			}
			l, r := symID(p[:k]), symID(p[k:])
			if l < 0 || r < 0 {
				continue
			}
			m.pairs[pairKey(l, r)] = mergeEntry{rank: rank[key(t.scores[id])], id: int32(id)}
		}
	}
	t.m = m
}

// finish sets up what every kind needs after its tables are built.
func (t *Tokenizer) finish() {
	t.cache = newWordCache(16)
	t.bytes = make([][]byte, len(t.pieces))
	for id, p := range t.pieces {
		t.bytes[id] = t.surface(int32(id), p)
	}
	for _, a := range t.added {
		if !a.Special && t.kind != KindSentencePiece {
			t.alwaysMatch = true
		}
	}
}

// surface returns the decoded bytes of a SentencePiece-style piece.
func (t *Tokenizer) surface(id int32, p string) []byte {
	switch t.types[id] {
	case Control:
		return nil
	case Unknown:
		return []byte(t.unkSurface)
	case Byte:
		if b, ok := parseBytePiece(p); ok {
			return []byte{b}
		}
	}
	if t.kind == KindByteLevel {
		if raw, ok := byteLevelDecode(p); ok {
			return raw
		}
		return []byte(p)
	}
	if t.escapeWS || t.kind == KindBPE {
		return []byte(strings.ReplaceAll(p, spaceSymbol, " "))
	}
	return []byte(p)
}

// MarshalSentencePiece returns the tokenizer as a SentencePiece
// tokenizer.model (ModelProto bytes), loadable by the sentencepiece
// library. Only KindSentencePiece tokenizers can be written: pieces with
// their scores and types, trainer_spec model_type=BPE, the byte_fallback
// flag, vocab_size and the unk/bos/eos/pad ids, and an identity
// normalizer_spec with the tokenizer's add_dummy_prefix,
// remove_extra_whitespaces and escape_whitespaces.
func (t *Tokenizer) MarshalSentencePiece() ([]byte, error) {
	if t.kind != KindSentencePiece {
		return nil, fmt.Errorf("%s: only SentencePiece tokenizers can be written as tokenizer.model (this one is %s)", where(t.source), t.kind)
	}
	m := defaultSPModel()
	m.modelType = spModelBPE
	m.vocabSize = int32(len(t.pieces))
	m.byteFallback = t.byteFallback
	m.unkID, m.bosID, m.eosID, m.padID = t.unk, t.bos, t.eos, t.pad
	name := func(id int32, def string) string {
		if id >= 0 {
			return t.pieces[id]
		}
		return def
	}
	m.unkPiece = name(t.unk, m.unkPiece)
	m.bosPiece = name(t.bos, m.bosPiece)
	m.eosPiece = name(t.eos, m.eosPiece)
	m.padPiece = name(t.pad, m.padPiece)
	m.unkSurface = t.unkSurface
	m.normName = "identity"
	m.addDummyPrefix = t.addDummyPrefix
	m.removeExtraWS = t.removeExtraWS
	m.escapeWS = t.escapeWS
	m.pieces = make([]spPiece, len(t.pieces))
	for i := range t.pieces {
		m.pieces[i] = spPiece{piece: t.pieces[i], score: t.scores[i], typ: t.types[i]}
	}
	return m.marshal(), nil
}

// WriteSentencePieceModel writes t to w as a SentencePiece tokenizer.model
// (see MarshalSentencePiece).
func WriteSentencePieceModel(w io.Writer, t *Tokenizer) error {
	b, err := t.MarshalSentencePiece()
	if err != nil {
		return err
	}
	_, err = io.Copy(w, bytes.NewReader(b))
	return err
}

// SaveSentencePieceModel writes t atomically to path as a SentencePiece
// tokenizer.model (see MarshalSentencePiece).
func SaveSentencePieceModel(path string, t *Tokenizer) error {
	b, err := t.MarshalSentencePiece()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}
