package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Hugging Face tokenizer.json support: model BPE, either SentencePiece
// style (LLaMA-2, Mistral: byte_fallback, the Prepend/Replace normalizer
// or the Metaspace pre-tokenizer) or byte-level (LLaMA-3: the LLaMA-3
// Split pattern and the ByteLevel pre-tokenizer).

type hfFile struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *hfModel        `json:"model"`
}

type hfAddedToken struct {
	ID         *int64 `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfModel struct {
	Type                    string           `json:"type"`
	Vocab                   map[string]int64 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
	ByteFallback            bool             `json:"byte_fallback"`
	FuseUnk                 bool             `json:"fuse_unk"`
	UnkToken                *string          `json:"unk_token"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	Dropout                 *float64         `json:"dropout"`
}

// hfComponent is any normalizer, pre-tokenizer, decoder or post-processor.
type hfComponent struct {
	Type          string            `json:"type"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Decoders      []json.RawMessage `json:"decoders"`
	Processors    []json.RawMessage `json:"processors"`
	Prepend       string            `json:"prepend"`
	Pattern       struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content        string          `json:"content"`
	Replacement    string          `json:"replacement"`
	AddPrefixSpace *bool           `json:"add_prefix_space"`
	PrependScheme  string          `json:"prepend_scheme"`
	Split          *bool           `json:"split"`
	UseRegex       bool            `json:"use_regex"`
	Behavior       string          `json:"behavior"`
	Invert         bool            `json:"invert"`
	Start          int             `json:"start"`
	Stop           int             `json:"stop"`
	Single         []hfTemplateRef `json:"single"`
	SpecialTokens  map[string]struct {
		IDs []int64 `json:"ids"`
	} `json:"special_tokens"`
}

type hfTemplateRef struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func parseComponent(raw json.RawMessage, what string) (*hfComponent, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &c, nil
}

// ParseTokenizerJSON builds a tokenizer from the bytes of a Hugging Face
// tokenizer.json. source names the file in errors.
func ParseTokenizerJSON(data []byte, source string) (*Tokenizer, error) {
	t, err := parseTokenizerJSON(data, source)
	if err != nil {
		return nil, fmt.Errorf("%s: tokenizer.json: %w", where(source), err)
	}
	return t, nil
}

func parseTokenizerJSON(data []byte, source string) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Model == nil {
		return nil, errors.New("no model")
	}
	if f.Model.Type != "BPE" && !(f.Model.Type == "" && f.Model.Vocab != nil) {
		return nil, fmt.Errorf("model.type %q is not supported (only BPE)", f.Model.Type)
	}
	if p := f.Model.ContinuingSubwordPrefix; p != nil && *p != "" {
		return nil, fmt.Errorf("model.continuing_subword_prefix %q is not supported", *p)
	}
	if p := f.Model.EndOfWordSuffix; p != nil && *p != "" {
		return nil, fmt.Errorf("model.end_of_word_suffix %q is not supported", *p)
	}
	if len(f.Model.Vocab) == 0 {
		return nil, errors.New("model.vocab is empty")
	}
	t := &Tokenizer{
		kind:         KindBPE,
		source:       source,
		unk:          -1,
		bos:          -1,
		eos:          -1,
		pad:          -1,
		byteFallback: f.Model.ByteFallback,
		fuseUnk:      f.Model.FuseUnk,
		ignoreMerges: f.Model.IgnoreMerges,
		legacy:       true,
	}
	if err := t.hfPipeline(&f); err != nil {
		return nil, err
	}

	// Vocabulary: model vocab plus added tokens, dense ids.
	size := int64(0)
	for p, id := range f.Model.Vocab {
		if id < 0 || id >= math.MaxInt32/2 {
			return nil, fmt.Errorf("model.vocab[%q]: id %d is out of range", p, id)
		}
		size = max(size, id+1)
	}
	nmodel := size
	for i, a := range f.AddedTokens {
		if a.ID == nil {
			return nil, fmt.Errorf("added_tokens[%d] %q: no id", i, a.Content)
		}
		if *a.ID < 0 || *a.ID >= math.MaxInt32/2 {
			return nil, fmt.Errorf("added_tokens[%d] %q: id %d is out of range", i, a.Content, *a.ID)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d]: empty content", i)
		}
		size = max(size, *a.ID+1)
	}
	if size > int64(len(f.Model.Vocab)+len(f.AddedTokens)) {
		return nil, fmt.Errorf("ids are not dense: largest id %d but %d vocab entries and %d added tokens", size-1, len(f.Model.Vocab), len(f.AddedTokens))
	}
	t.pieces = make([]string, size)
	t.types = make([]PieceType, size)
	t.scores = make([]float32, size)
	t.vocab = make(map[string]int32, size)
	have := make([]bool, size)
	for p, id := range f.Model.Vocab {
		if have[id] {
			return nil, fmt.Errorf("model.vocab[%q]: id %d is also %q", p, id, t.pieces[id])
		}
		if !utf8.ValidString(p) {
			return nil, fmt.Errorf("model.vocab: piece %q is not valid UTF-8", p)
		}
		have[id] = true
		t.pieces[id], t.types[id] = p, Normal
		t.vocab[p] = int32(id)
	}
	for i := range t.byteIDs {
		t.byteIDs[i] = -1
	}
	if t.byteFallback {
		for b := 0; b < 256; b++ {
			if id, ok := t.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
				t.byteIDs[b] = id
				t.types[id] = Byte
			}
		}
	}
	if u := f.Model.UnkToken; u != nil {
		if id, ok := t.vocab[*u]; ok {
			t.unk = id
			t.types[id] = Unknown
		}
	}
	for i, a := range f.AddedTokens {
		id := int32(*a.ID)
		if have[id] && int64(id) < nmodel && t.pieces[id] != a.Content {
			return nil, fmt.Errorf("added_tokens[%d] %q: id %d is %q in model.vocab", i, a.Content, id, t.pieces[id])
		}
		if have[id] && int64(id) >= nmodel {
			return nil, fmt.Errorf("added_tokens[%d] %q: id %d is used twice", i, a.Content, id)
		}
		if !have[id] {
			if t.addedOnly == nil {
				t.addedOnly = make([]bool, size)
			}
			t.addedOnly[id] = true
			have[id] = true
			t.pieces[id] = a.Content
			if _, dup := t.vocab[a.Content]; !dup {
				t.vocab[a.Content] = id
			}
		}
		switch {
		case id == t.unk:
		case a.Special:
			t.types[id] = Control
		default:
			t.types[id] = UserDefined
		}
		t.added = append(t.added, AddedToken{ID: id, Content: a.Content, Special: a.Special,
			LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord, Normalized: a.Normalized})
	}
	for id, ok := range have {
		if !ok {
			return nil, fmt.Errorf("ids are not dense: id %d is neither in model.vocab nor in added_tokens", id)
		}
	}
	t.specials = newMatcher(t.added)

	if err := t.hfMerges(f.Model.Merges, int32(nmodel)); err != nil {
		return nil, err
	}
	if t.kind == KindByteLevel {
		for b := 0; b < 256; b++ {
			t.byteSym[b] = -1
			if id, ok := t.vocab[string(byteToRune[b])]; ok && !t.isAddedOnly(id) {
				t.byteSym[b] = id
			}
		}
		if t.ignoreMerges {
			t.rawVocab = make(map[string]int32, nmodel)
			for id := int32(0); id < int32(nmodel); id++ {
				if raw, ok := byteLevelDecode(t.pieces[id]); ok {
					t.rawVocab[string(raw)] = id
				}
			}
		}
	}
	t.guessBOSEOS()
	if err := t.hfPostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	t.finish()
	// Added tokens decode to their content (Hugging Face emits them
	// verbatim, outside the decoder).
	for _, a := range t.added {
		if !a.Special {
			t.bytes[a.ID] = []byte(a.Content)
		}
	}
	return t, nil
}

// hfPipeline reads the normalizer, pre-tokenizer and decoder and decides
// the kind.
func (t *Tokenizer) hfPipeline(f *hfFile) error {
	norm, err := parseComponent(f.Normalizer, "normalizer")
	if err != nil {
		return err
	}
	pre, err := parseComponent(f.PreTokenizer, "pre_tokenizer")
	if err != nil {
		return err
	}
	dec, err := parseComponent(f.Decoder, "decoder")
	if err != nil {
		return err
	}
	// Pre-tokenizer.
	var pres []*hfComponent
	if pre != nil {
		if pre.Type == "Sequence" {
			for i, raw := range pre.PreTokenizers {
				c, err := parseComponent(raw, fmt.Sprintf("pre_tokenizer.pretokenizers[%d]", i))
				if err != nil {
					return err
				}
				if c != nil {
					pres = append(pres, c)
				}
			}
		} else {
			pres = []*hfComponent{pre}
		}
	}
	byteLevel := false
	for i, c := range pres {
		switch c.Type {
		case "ByteLevel":
			if c.UseRegex {
				return fmt.Errorf("pre_tokenizer ByteLevel with use_regex=true (GPT-2 split) is not supported")
			}
			if c.AddPrefixSpace != nil && *c.AddPrefixSpace {
				return fmt.Errorf("pre_tokenizer ByteLevel with add_prefix_space=true is not supported")
			}
			byteLevel = true
		case "Split":
			if c.Pattern.Regex == nil || *c.Pattern.Regex != llama3Pattern {
				pat := ""
				if c.Pattern.Regex != nil {
					pat = *c.Pattern.Regex
				} else if c.Pattern.String != nil {
					pat = *c.Pattern.String
				}
				return fmt.Errorf("pre_tokenizer Split pattern %q is not supported (only the LLaMA-3 pattern)", pat)
			}
			if c.Behavior != "Isolated" || c.Invert {
				return fmt.Errorf("pre_tokenizer Split behavior %q invert=%v is not supported (only Isolated)", c.Behavior, c.Invert)
			}
			if i != 0 {
				return fmt.Errorf("pre_tokenizer Split must come first")
			}
		case "Metaspace":
			if c.Replacement != spaceSymbol {
				return fmt.Errorf("pre_tokenizer Metaspace replacement %q is not supported (only %q)", c.Replacement, spaceSymbol)
			}
			t.metaspace = true
			t.escapeWS = true
			scheme := c.PrependScheme
			if scheme == "" {
				scheme = "always"
				if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
					scheme = "never"
				}
			}
			switch scheme {
			case "always":
				t.addDummyPrefix, t.prepend = true, prependAlways
			case "first":
				t.addDummyPrefix, t.prepend = true, prependFirst
			case "never":
				t.addDummyPrefix, t.prepend = false, prependNever
			default:
				return fmt.Errorf("pre_tokenizer Metaspace prepend_scheme %q is not supported", scheme)
			}
			t.metaspaceSplit = c.Split == nil || *c.Split
		default:
			return fmt.Errorf("pre_tokenizer %q is not supported", c.Type)
		}
	}
	if byteLevel {
		t.kind = KindByteLevel
		if len(pres) != 2 || pres[0].Type != "Split" {
			return fmt.Errorf("pre_tokenizer: byte-level BPE needs the LLaMA-3 Split followed by ByteLevel")
		}
		if norm != nil {
			return fmt.Errorf("normalizer %q with byte-level BPE is not supported", norm.Type)
		}
		return nil
	}
	if len(pres) > 0 && !t.metaspace {
		return fmt.Errorf("pre_tokenizer %q is not supported without ByteLevel", pres[0].Type)
	}
	// Normalizer: Prepend("▁") and Replace(" ", "▁"), alone or in a Sequence.
	var norms []*hfComponent
	if norm != nil {
		if norm.Type == "Sequence" {
			for i, raw := range norm.Normalizers {
				c, err := parseComponent(raw, fmt.Sprintf("normalizer.normalizers[%d]", i))
				if err != nil {
					return err
				}
				if c != nil {
					norms = append(norms, c)
				}
			}
		} else {
			norms = []*hfComponent{norm}
		}
	}
	for i, c := range norms {
		switch c.Type {
		case "Prepend":
			if c.Prepend != spaceSymbol || i != 0 {
				return fmt.Errorf("normalizer Prepend %q is not supported (only %q, first)", c.Prepend, spaceSymbol)
			}
			t.addDummyPrefix, t.prepend = true, prependAlways
		case "Replace":
			if c.Pattern.String == nil || *c.Pattern.String != " " || c.Content != spaceSymbol {
				return fmt.Errorf("normalizer Replace is supported only for \" \" → %q", spaceSymbol)
			}
			t.escapeWS = true
		default:
			return fmt.Errorf("normalizer %q is not supported", c.Type)
		}
	}
	if t.addDummyPrefix && !t.escapeWS {
		return fmt.Errorf("normalizer Prepend without Replace(\" \", %q) is not supported", spaceSymbol)
	}
	// Decoder: strip the dummy-prefix space?
	var decs []*hfComponent
	if dec != nil {
		if dec.Type == "Sequence" {
			for i, raw := range dec.Decoders {
				c, err := parseComponent(raw, fmt.Sprintf("decoder.decoders[%d]", i))
				if err != nil {
					return err
				}
				if c != nil {
					decs = append(decs, c)
				}
			}
		} else {
			decs = []*hfComponent{dec}
		}
	}
	for _, c := range decs {
		switch c.Type {
		case "Strip":
			if c.Start > 0 {
				t.stripDecode = true
			}
		case "Metaspace":
			if c.PrependScheme != "never" && (c.AddPrefixSpace == nil || *c.AddPrefixSpace) {
				t.stripDecode = true
			}
		}
	}
	return nil
}

// hfMerges builds the pair table from model.merges ("a b" strings or
// ["a", "b"] pairs); later duplicates win, as in tokenizers.
func (t *Tokenizer) hfMerges(raw json.RawMessage, nmodel int32) error {
	m := &merger{nvocab: nmodel, chars: make(map[string]int32)}
	for i := range m.ascii {
		m.ascii[i] = -1
	}
	for id := int32(0); id < nmodel; id++ {
		p := t.pieces[id]
		if utf8.RuneCountInString(p) != 1 {
			continue
		}
		if len(p) == 1 {
			m.ascii[p[0]] = id
		} else {
			m.chars[p] = id
		}
	}
	var merges []json.RawMessage
	if !isNull(raw) {
		if err := json.Unmarshal(raw, &merges); err != nil {
			return fmt.Errorf("model.merges: %w", err)
		}
	}
	m.pairs = make(map[uint64]mergeEntry, len(merges))
	m.chunkable = true
	for i, r := range merges {
		var a, b string
		var s string
		var pair []string
		if err := json.Unmarshal(r, &s); err == nil {
			var ok bool
			a, b, ok = strings.Cut(s, " ")
			if !ok || a == "" || b == "" {
				return fmt.Errorf("model.merges[%d] %q: want two pieces separated by a space", i, s)
			}
		} else if err := json.Unmarshal(r, &pair); err == nil && len(pair) == 2 {
			a, b = pair[0], pair[1]
		} else {
			return fmt.Errorf("model.merges[%d]: want \"a b\" or [\"a\", \"b\"]", i)
		}
		ida, oka := t.vocab[a]
		idb, okb := t.vocab[b]
		idm, okm := t.vocab[a+b]
		switch {
		case !oka || ida >= nmodel:
			return fmt.Errorf("model.merges[%d]: piece %q is not in model.vocab", i, a)
		case !okb || idb >= nmodel:
			return fmt.Errorf("model.merges[%d]: piece %q is not in model.vocab", i, b)
		case !okm || idm >= nmodel:
			return fmt.Errorf("model.merges[%d]: merged piece %q is not in model.vocab", i, a+b)
		}
		m.pairs[pairKey(ida, idb)] = mergeEntry{rank: int32(i), id: idm}
		if strings.Contains(strings.TrimLeft(a+b, spaceSymbol), spaceSymbol) {
			m.chunkable = false
		}
	}
	t.m = m
	return nil
}

// guessBOSEOS picks BOS/EOS from well-known token names; a model
// directory's configuration overrides it.
func (t *Tokenizer) guessBOSEOS() {
	for _, name := range []string{"<s>", "<|begin_of_text|>"} {
		if id, ok := t.vocab[name]; ok && t.bos < 0 {
			t.bos = id
		}
	}
	for _, name := range []string{"</s>", "<|end_of_text|>"} {
		if id, ok := t.vocab[name]; ok && t.eos < 0 {
			t.eos = id
		}
	}
}

// hfPostProcessor reads BOS/EOS insertion from a TemplateProcessing
// post-processor (possibly inside a Sequence).
func (t *Tokenizer) hfPostProcessor(raw json.RawMessage) error {
	c, err := parseComponent(raw, "post_processor")
	if err != nil || c == nil {
		return err
	}
	procs := []*hfComponent{c}
	if c.Type == "Sequence" {
		procs = procs[:0]
		for i, r := range c.Processors {
			p, err := parseComponent(r, fmt.Sprintf("post_processor.processors[%d]", i))
			if err != nil {
				return err
			}
			if p != nil {
				procs = append(procs, p)
			}
		}
	}
	for _, p := range procs {
		if p.Type != "TemplateProcessing" {
			continue
		}
		id := func(name string) (int32, error) {
			if st, ok := p.SpecialTokens[name]; ok && len(st.IDs) == 1 {
				return int32(st.IDs[0]), nil
			}
			if v, ok := t.vocab[name]; ok {
				return v, nil
			}
			return -1, fmt.Errorf("post_processor: special token %q has no id", name)
		}
		seen := false
		for _, ref := range p.Single {
			switch {
			case ref.Sequence != nil:
				seen = true
			case ref.SpecialToken != nil:
				v, err := id(ref.SpecialToken.ID)
				if err != nil {
					return err
				}
				if v < 0 || int(v) >= len(t.pieces) {
					return fmt.Errorf("post_processor: special token %q id %d is out of range", ref.SpecialToken.ID, v)
				}
				if !seen {
					t.bos, t.addBOS = v, true
				} else {
					t.eos, t.addEOS = v, true
				}
			}
		}
	}
	return nil
}
