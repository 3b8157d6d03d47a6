package prompt

// The LLM-Adapters strings, byte for byte from
// github.com/AGI-Edgerunners/LLM-Adapters (the version NVlabs/DoRA's
// commonsense_reasoning copies; commit 91770ab of finetune.py). Inside the
// Python f-strings every line after the first is indented by 16 spaces, and
// those spaces are part of the prompt.
//
// Training, finetune.py generate_prompt(data_point):
//   - with input: ONE space after "request."; the blank lines between
//     sections hold the 16 spaces of indentation;
//   - without input: TWO spaces after "request."; blank lines as above.
//
// Evaluation, evaluate.py and commonsense_evaluate.py
// generate_prompt(instruction, input):
//   - with input: NO space after "request."; the blank lines are empty;
//   - without input: ONE space after "request."; the blank lines are empty.
//
// Both end with "### Response:\n" followed by 16 spaces. (An older
// finetune.py had "  # noqa: E501" inside the string; that version is not
// reproduced.)
const (
	indent = "                " // 16 spaces

	laTrainInputHead   = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request. \n\n"
	laTrainNoInputHead = "Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n"
	laEvalInputHead    = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n"
	laEvalNoInputHead  = "Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n"
)

// LLMAdapters is the template of LLM-Adapters (and of the DoRA/LoRA
// baselines the SMT paper compares against).
//
// Train: source is generate_prompt with an empty output (what finetune.py
// tokenizes as the user prompt when train_on_inputs is off) and target is
// r.Output, so source+target is exactly generate_prompt(data_point). The
// with-input variant is used when r.Input is non-empty (Python truthiness).
// The caller appends EOS (finetune.py's tokenize adds it unless the text
// was cut at cutoff_len).
//
// Eval: generate_prompt(instruction, input) of evaluate.py. Quirk: the
// reference scripts call it with the instruction alone, so they always use
// the no-input variant; every LLM-Adapters test set has an empty input, so
// that is what Eval produces on them too.
type LLMAdapters struct{}

// Name returns "llm-adapters".
func (LLMAdapters) Name() string { return "llm-adapters" }

// AddBOS returns true: LLM-Adapters lets the tokenizer add BOS.
func (LLMAdapters) AddBOS() bool { return true }

// Train returns the LLM-Adapters training source and target of r.
func (LLMAdapters) Train(r Record) (source, target string) {
	if r.Input != "" {
		return laTrainInputHead +
			indent + "### Instruction:\n" +
			indent + r.Instruction + "\n" +
			indent + "\n" +
			indent + "### Input:\n" +
			indent + r.Input + "\n" +
			indent + "\n" +
			indent + "### Response:\n" +
			indent, r.Output
	}
	return laTrainNoInputHead +
		indent + "### Instruction:\n" +
		indent + r.Instruction + "\n" +
		indent + "\n" +
		indent + "### Response:\n" +
		indent, r.Output
}

// Eval returns the LLM-Adapters evaluation prompt of r.
func (LLMAdapters) Eval(r Record) string {
	if r.Input != "" {
		return laEvalInputHead +
			indent + "### Instruction:\n" +
			indent + r.Instruction + "\n\n" +
			indent + "### Input:\n" +
			indent + r.Input + "\n\n" +
			indent + "### Response:\n" +
			indent
	}
	return laEvalNoInputHead +
		indent + "### Instruction:\n" +
		indent + r.Instruction + "\n\n" +
		indent + "### Response:\n" +
		indent
}
