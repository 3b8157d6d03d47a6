// Package prompt holds the prompt templates that turn an instruction record
// into model text. The same template must be used by the tokenize stage
// (training: a source that is masked out of the loss plus a target) and by
// the evaluate stage (a generation prompt), so both import this package and
// select a template by name.
//
// Every template reproduces the bytes of a published code base exactly,
// including its odd whitespace; each file names the source of its strings.
// The templates are:
//
//   - smt: the released SMT code (HectorHHZ/Sparse_Matrix_Tuning), the default;
//   - llm-adapters: LLM-Adapters' finetune.py / evaluate.py (also used by DoRA);
//   - alpaca: Stanford Alpaca's train.py PROMPT_DICT;
//   - raw: the record's text with no wrapper.
package prompt

import (
	"fmt"
	"sort"
	"strings"
)

// Record is one instruction-tuning example in the LLM-Adapters / Alpaca JSON
// schema: {"instruction", "input", "output", "answer"}. In LLM-Adapters'
// files Input is always empty, Output holds the response text (for
// commonsense tasks "the correct answer is answer2", for math a rationale)
// and Answer the label the evaluation compares against.
type Record struct {
	Instruction string `json:"instruction"`
	Input       string `json:"input"`
	Output      string `json:"output"`
	Answer      string `json:"answer"`
}

// Template formats records for training and for evaluation.
type Template interface {
	// Name returns the name Get knows the template by.
	Name() string
	// Train returns the training text of r split in two: the source (the
	// prompt, whose tokens the tokenize stage masks out of the loss) and the
	// target (the response). source+target is the full training text. The
	// caller appends the tokenizer's EOS token to the target.
	Train(r Record) (source, target string)
	// Eval returns the prompt the model continues at evaluation time.
	Eval(r Record) string
	// AddBOS reports whether the tokenizer should prepend its BOS token.
	// It is false when the template text itself starts with a literal "<s>"
	// that the LLaMA SentencePiece tokenizer parses as BOS (the reference
	// tokenizes those prompts with add_bos_token=False).
	AddBOS() bool
}

// Default is the name of the template used when none is given: the
// released SMT code's.
const Default = "smt"

var registry = map[string]Template{
	SMT{}.Name():         SMT{},
	LLMAdapters{}.Name(): LLMAdapters{},
	Alpaca{}.Name():      Alpaca{},
	Raw{}.Name():         Raw{},
}

// Names returns the names of all templates, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns the template called name. The error for an unknown name lists
// the valid ones.
func Get(name string) (Template, error) {
	if t, ok := registry[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("prompt: unknown template %q (valid: %s)", name, strings.Join(Names(), ", "))
}
