package evaluate

import (
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/tokenizer"
)

// Engine generates continuations with one model, its tokenizer and one
// Decoding, in batches over a key/value cache that it grows as needed.
type Engine struct {
	// Model is the model that generates.
	Model *llama.Model
	// Tok is the model's tokenizer.
	Tok *tokenizer.Tokenizer
	// Dec is how tokens are picked.
	Dec Decoding

	gen *llama.Generator
}

// NewEngine returns an Engine after checking dec.
func NewEngine(m *llama.Model, tok *tokenizer.Tokenizer, dec Decoding) (*Engine, error) {
	if err := dec.Validate(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	return &Engine{Model: m, Tok: tok, Dec: dec}, nil
}

// Encode tokenizes a prompt text. Special tokens written in the text (the
// SMT template's leading "<s>") become their ids, as the reference's
// Hugging Face tokenizer reads them; addBOS puts the BOS id in front.
func (e *Engine) Encode(text string, addBOS bool) []int32 {
	return e.Tok.Encode(text, tokenizer.EncodeOptions{ParseSpecial: true, AddBOS: addBOS && e.Tok.BOS() >= 0})
}

// Text returns the text that gen adds to prompt, as the reference
// evaluation extracts it: the whole sequence decoded (special tokens
// skipped) with as many characters cut from its front as the decoded
// prompt has.
func (e *Engine) Text(prompt, gen []int32) string {
	full := e.Tok.Decode(append(slices.Clip(prompt), gen...))
	n := utf8.RuneCountInString(e.Tok.Decode(prompt))
	i := 0
	for ; n > 0 && i < len(full); n-- {
		_, size := utf8.DecodeRuneInString(full[i:])
		i += size
	}
	return full[i:]
}

// Budget returns how many new tokens a prompt of n tokens gets: the
// Decoding's MaxNewTokens, cut so that prompt and continuation fit the
// model's max_position_embeddings (when the config sets it). A budget
// below 1 means the prompt does not fit at all.
func (e *Engine) Budget(n int) int {
	b := e.Dec.MaxNewTokens
	if mp := e.Model.Cfg.MaxPositionEmbeddings; mp > 0 {
		b = min(b, mp-n)
	}
	return b
}

// Reserve makes the cache hold batch prompts of up to positions tokens
// (prompt + new), so that later batches do not reallocate it.
func (e *Engine) Reserve(batch, positions int) {
	rows := batch * e.Dec.Rows()
	if e.gen != nil && e.gen.B >= rows && e.gen.Tmax >= positions {
		return
	}
	if e.gen != nil {
		rows, positions = max(rows, e.gen.B), max(positions, e.gen.Tmax)
	}
	e.gen = e.Model.NewGenerator(rows, positions)
}

// Generate continues a batch of prompts by up to maxNew tokens each and
// returns the new ids (without the end-of-sequence id).
func (e *Engine) Generate(prompts [][]int32, maxNew int) ([][]int32, error) {
	L := 0
	for _, p := range prompts {
		L = max(L, len(p))
	}
	e.Reserve(len(prompts), L+maxNew)
	out, err := e.Dec.generate(e.gen, prompts, maxNew)
	if err != nil {
		return nil, fmt.Errorf("evaluate: generate: %w", err)
	}
	return out, nil
}

// Completion is the continuation of one prompt.
type Completion struct {
	// Tokens are the generated ids (no end-of-sequence id).
	Tokens []int32
	// Text is the generated text (see Engine.Text).
	Text string
	// Budget is the number of new tokens the prompt was allowed.
	Budget int
	// Skipped is set when the prompt alone fills the model's context:
	// nothing was generated.
	Skipped bool
}

// Plan groups prompts of the given lengths into batches of at most batch
// prompts: longest first (ties in input order), each batch sharing one
// new-token budget. Prompts that do not fit the model are returned apart.
func (e *Engine) Plan(lengths []int, batch int) (batches [][]int, skipped []int) {
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lengths[order[a]] > lengths[order[b]] })
	var cur []int
	curBudget := 0
	for _, i := range order {
		b := e.Budget(lengths[i])
		if b < 1 {
			skipped = append(skipped, i)
			continue
		}
		if len(cur) == batch || (len(cur) > 0 && b != curBudget) {
			batches = append(batches, cur)
			cur = nil
		}
		cur = append(cur, i)
		curBudget = b
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, skipped
}

// Positions returns the cache positions the batches of Plan need.
func (e *Engine) Positions(lengths []int, batches [][]int) int {
	n := 0
	for _, b := range batches {
		n = max(n, lengths[b[0]]+e.Budget(lengths[b[0]]))
	}
	return n
}

// Complete continues prompts in batches of at most batch (see Plan) and
// returns the completions in input order. After each batch (and first for
// the skipped prompts, if any), each is called with the indices it
// finished; an error from each stops the work and is returned.
func (e *Engine) Complete(prompts [][]int32, batch int, each func(idx []int, out []Completion) error) ([]Completion, error) {
	if batch < 1 {
		return nil, fmt.Errorf("evaluate: batch size %d", batch)
	}
	lengths := make([]int, len(prompts))
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("evaluate: prompt %d has no tokens", i)
		}
		lengths[i] = len(p)
	}
	batches, skipped := e.Plan(lengths, batch)
	out := make([]Completion, len(prompts))
	if len(batches) > 0 {
		e.Reserve(min(batch, len(prompts)), e.Positions(lengths, batches))
	}
	if len(skipped) > 0 {
		for _, i := range skipped {
			out[i] = Completion{Skipped: true}
		}
		if each != nil {
			if err := each(skipped, out); err != nil {
				return out, err
			}
		}
	}
	for _, b := range batches {
		ps := make([][]int32, len(b))
		for k, i := range b {
			ps[k] = prompts[i]
		}
		budget := e.Budget(lengths[b[0]])
		toks, err := e.Generate(ps, budget)
		if err != nil {
			return out, err
		}
		for k, i := range b {
			out[i] = Completion{Tokens: toks[k], Text: e.Text(prompts[i], toks[k]), Budget: budget}
		}
		if each != nil {
			if err := each(b, out); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// ResolveBOS decides whether prompts made with tmpl get a BOS id in front,
// as the tokenize stage decides it: a template whose text starts with a
// literal "<s>" (smt) gets none when the tokenizer parses "<s>" as its BOS
// (the reference tokenizes with add_bos_token=False); otherwise BOS is added
// when the tokenizer's configuration adds it. The string says why.
func ResolveBOS(tok *tokenizer.Tokenizer, tmpl prompt.Template) (bool, string) {
	if tmpl.AddBOS() {
		if tok.AddsBOS() {
			return true, "the tokenizer's configuration adds BOS"
		}
		return false, "the tokenizer's configuration adds no BOS"
	}
	if tok.BOS() >= 0 && slices.Equal(tok.Encode("<s>", tokenizer.EncodeOptions{ParseSpecial: true}), []int32{tok.BOS()}) {
		return false, `the template's literal "<s>" is the BOS token`
	}
	if tok.AddsBOS() {
		return true, `the template's "<s>" is not this tokenizer's BOS; the tokenizer's configuration adds BOS`
	}
	return false, `the template's "<s>" is not this tokenizer's BOS, and its configuration adds none`
}
