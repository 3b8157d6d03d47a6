package prompt

// The Stanford Alpaca strings, byte for byte from
// github.com/tatsu-lab/stanford_alpaca train.py, PROMPT_DICT
// ("prompt_input" and "prompt_no_input"). They end in "### Response:" with
// no newline; train.py's target is example["output"] + eos_token.
const (
	alpacaInputHead   = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
	alpacaNoInputHead = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n"
)

// Alpaca is the Stanford Alpaca template. The with-input variant is used when
// r.Input is non-empty (train.py: example.get("input", "") != ""). Training
// and evaluation prompts are the same; the target is r.Output, and the caller
// appends EOS.
type Alpaca struct{}

// Name returns "alpaca".
func (Alpaca) Name() string { return "alpaca" }

// AddBOS returns true: Alpaca lets the tokenizer add BOS.
func (Alpaca) AddBOS() bool { return true }

// Train returns the Alpaca training source and target of r.
func (a Alpaca) Train(r Record) (source, target string) {
	return a.Eval(r), r.Output
}

// Eval returns the Alpaca prompt of r.
func (Alpaca) Eval(r Record) string {
	if r.Input != "" {
		return alpacaInputHead + r.Instruction + "\n\n### Input:\n" + r.Input + "\n\n### Response:"
	}
	return alpacaNoInputHead + r.Instruction + "\n\n### Response:"
}
