package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Load reads a tokenizer from path: a SentencePiece tokenizer.model, a
// Hugging Face tokenizer.json, a llama2.c tokenizer.bin, or a model
// directory. In a directory, tokenizer.json is preferred, then
// tokenizer.model, then tokenizer.bin; tokenizer_config.json,
// special_tokens_map.json and config.json there set BOS/EOS, the
// add_bos/add_eos policy, the legacy flag and extra added tokens.
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if st.IsDir() {
		return LoadDir(path)
	}
	return loadFile(path)
}

func loadFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	name := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(name, ".json"):
		return ParseTokenizerJSON(data, path)
	case strings.HasSuffix(name, ".model"):
		return ParseSentencePiece(data, path)
	case strings.HasSuffix(name, ".bin"):
		return ParseLlama2C(data, path)
	}
	// Unknown name: sniff.
	if b := bytes.TrimLeft(data, " \t\r\n"); len(b) > 0 && b[0] == '{' {
		return ParseTokenizerJSON(data, path)
	}
	if t, err := ParseSentencePiece(data, path); err == nil {
		return t, nil
	}
	if t, err := ParseLlama2C(data, path); err == nil {
		return t, nil
	}
	return nil, fmt.Errorf("%s: not a tokenizer.model, tokenizer.json or llama2.c tokenizer.bin", path)
}

// LoadDir loads the tokenizer of a model directory (see Load).
func LoadDir(dir string) (*Tokenizer, error) {
	var t *Tokenizer
	var err error
	for _, name := range []string{"tokenizer.json", "tokenizer.model", "tokenizer.bin"} {
		p := filepath.Join(dir, name)
		if _, serr := os.Stat(p); serr != nil {
			continue
		}
		var data []byte
		if data, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		switch name {
		case "tokenizer.json":
			t, err = ParseTokenizerJSON(data, p)
		case "tokenizer.model":
			t, err = ParseSentencePiece(data, p)
		default:
			t, err = ParseLlama2C(data, p)
		}
		if err != nil {
			return nil, err
		}
		break
	}
	if t == nil {
		return nil, fmt.Errorf("%s: no tokenizer.json, tokenizer.model or tokenizer.bin", dir)
	}
	if err := t.applyConfig(dir); err != nil {
		return nil, err
	}
	return t, nil
}

// tokenName is a special token in a config: a string or {"content": ...}.
type tokenName struct {
	set     bool
	content string
}

func (n *tokenName) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		n.set, n.content = true, s
		return nil
	}
	var o struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("want a string or {\"content\": ...}")
	}
	n.set, n.content = true, o.Content
	return nil
}

type tokenizerConfig struct {
	AddBOSToken        *bool                   `json:"add_bos_token"`
	AddEOSToken        *bool                   `json:"add_eos_token"`
	Legacy             *bool                   `json:"legacy"`
	BOSToken           tokenName               `json:"bos_token"`
	EOSToken           tokenName               `json:"eos_token"`
	PadToken           tokenName               `json:"pad_token"`
	AddedTokensDecoder map[string]hfAddedToken `json:"added_tokens_decoder"`
}

// idList is config.json's bos/eos id: a number, a list or null.
type idList []int64

func (l *idList) UnmarshalJSON(b []byte) error {
	var n *int64
	if err := json.Unmarshal(b, &n); err == nil {
		if n != nil {
			*l = idList{*n}
		}
		return nil
	}
	var ns []int64
	if err := json.Unmarshal(b, &ns); err != nil {
		return fmt.Errorf("want a number or a list of numbers")
	}
	*l = ns
	return nil
}

type modelConfig struct {
	BOSTokenID idList `json:"bos_token_id"`
	EOSTokenID idList `json:"eos_token_id"`
	PadTokenID idList `json:"pad_token_id"`
}

func readJSON(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tokenizer: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// applyConfig reads the configuration files of a model directory.
func (t *Tokenizer) applyConfig(dir string) error {
	var tc, sm tokenizerConfig
	var mc modelConfig
	tcPath := filepath.Join(dir, "tokenizer_config.json")
	hasTC, err := readJSON(tcPath, &tc)
	if err != nil {
		return err
	}
	smPath := filepath.Join(dir, "special_tokens_map.json")
	if _, err := readJSON(smPath, &sm); err != nil {
		return err
	}
	mcPath := filepath.Join(dir, "config.json")
	if _, err := readJSON(mcPath, &mc); err != nil {
		return err
	}
	// Added tokens of a slow tokenizer (tokenizer.model + config).
	if hasTC && t.kind == KindSentencePiece && len(tc.AddedTokensDecoder) > 0 {
		if err := t.addConfigTokens(tc.AddedTokensDecoder, tcPath); err != nil {
			return err
		}
	}
	resolve := func(file, field string, n tokenName) (int32, bool, error) {
		if !n.set {
			return -1, false, nil
		}
		id, ok := t.vocab[n.content]
		if !ok {
			return -1, false, fmt.Errorf("%s: %s %q is not in the vocabulary of %s", file, field, n.content, where(t.source))
		}
		return id, true, nil
	}
	pick := func(field string, cur int32, tcName, smName tokenName, ids idList) (int32, error) {
		if id, ok, err := resolve(tcPath, field, tcName); err != nil || ok {
			return id, err
		}
		if id, ok, err := resolve(smPath, field, smName); err != nil || ok {
			return id, err
		}
		if len(ids) > 0 {
			if ids[0] < 0 || ids[0] >= int64(len(t.pieces)) {
				return -1, fmt.Errorf("%s: %s_id %d is out of range (vocabulary %d)", mcPath, field, ids[0], len(t.pieces))
			}
			return int32(ids[0]), nil
		}
		return cur, nil
	}
	if t.bos, err = pick("bos_token", t.bos, tc.BOSToken, sm.BOSToken, mc.BOSTokenID); err != nil {
		return err
	}
	if t.eos, err = pick("eos_token", t.eos, tc.EOSToken, sm.EOSToken, mc.EOSTokenID); err != nil {
		return err
	}
	if t.pad, err = pick("pad_token", t.pad, tc.PadToken, sm.PadToken, mc.PadTokenID); err != nil {
		return err
	}
	if tc.AddBOSToken != nil {
		t.addBOS = *tc.AddBOSToken
	}
	if tc.AddEOSToken != nil {
		t.addEOS = *tc.AddEOSToken
	}
	if tc.Legacy != nil {
		t.legacy = *tc.Legacy
		if t.kind == KindSentencePiece && !t.legacy {
			t.prepend = prependFirst
		}
	}
	return nil
}

// addConfigTokens adds tokenizer_config.json added_tokens_decoder entries
// to a SentencePiece tokenizer: existing pieces are checked, new ids
// (beyond the model, e.g. a [PAD] token) extend the vocabulary.
func (t *Tokenizer) addConfigTokens(dec map[string]hfAddedToken, file string) error {
	type entry struct {
		id int32
		a  hfAddedToken
	}
	var extra []entry
	for k, a := range dec {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil || id < 0 {
			return fmt.Errorf("%s: added_tokens_decoder key %q is not a token id", file, k)
		}
		if a.Content == "" {
			return fmt.Errorf("%s: added_tokens_decoder[%s]: empty content", file, k)
		}
		if int(id) < len(t.pieces) {
			if t.pieces[id] != a.Content {
				return fmt.Errorf("%s: added_tokens_decoder[%s] is %q but the model's piece %d is %q", file, k, a.Content, id, t.pieces[id])
			}
			continue
		}
		extra = append(extra, entry{int32(id), a})
	}
	if len(extra) == 0 {
		return nil
	}
	size := len(t.pieces)
	for _, e := range extra {
		size = max(size, int(e.id)+1)
	}
	if size != len(t.pieces)+len(extra) {
		return fmt.Errorf("%s: added_tokens_decoder ids beyond the model (%d pieces) are not dense", file, len(t.pieces))
	}
	t.addedOnly = make([]bool, size)
	for len(t.pieces) < size {
		t.pieces = append(t.pieces, "")
		t.types = append(t.types, UserDefined)
		t.scores = append(t.scores, 0)
		t.bytes = append(t.bytes, nil)
	}
	for _, e := range extra {
		if _, dup := t.vocab[e.a.Content]; dup {
			return fmt.Errorf("%s: added_tokens_decoder[%d] %q is already a piece", file, e.id, e.a.Content)
		}
		t.pieces[e.id] = e.a.Content
		t.vocab[e.a.Content] = e.id
		t.addedOnly[e.id] = true
		if e.a.Special {
			t.types[e.id] = Control
		} else {
			t.bytes[e.id] = []byte(e.a.Content)
		}
		t.added = append(t.added, AddedToken{ID: e.id, Content: e.a.Content, Special: e.a.Special,
			LStrip: e.a.LStrip, RStrip: e.a.RStrip, SingleWord: e.a.SingleWord, Normalized: e.a.Normalized})
	}
	// Added tokens of a slow tokenizer are split out before SentencePiece
	// runs, special or not.
	t.specials = newMatcher(t.added)
	for _, a := range t.added {
		if !a.Special && a.ID >= t.m.nvocab {
			t.alwaysMatch = true
		}
	}
	return nil
}
