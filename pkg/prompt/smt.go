package prompt

import "strings"

// The SMT strings, byte for byte from the released SMT code
// (github.com/HectorHHZ/Sparse_Matrix_Tuning, commit 31c5ff6):
//
//   - smtTrainHead: deepspeed/helpers/helper.py, generate_prompt(), the
//     branch taken when only instruction is passed (always, in
//     SupervisedDataset). TWO spaces follow "request.".
//   - smtEvalHead: deepspeed/evaluation/run_commonsense_parallel.py,
//     i_prompt. ONE space follows "request.".
//
// Both start with a literal "<s> ", which LLaMA-1/2 tokenizers (loaded with
// add_bos_token=False) turn into the BOS token.
const (
	smtTrainHead = "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n### Instruction:\n"
	smtEvalHead  = "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n### Instruction:\n"
	smtTail      = "\n\n### Response:\n"
)

// SMT is the released SMT code's template.
//
// Training (helpers/helper.py, SupervisedDataset): the instruction text is
// r.Input when it is non-empty, else r.Instruction (get_instruction_or_prompt);
// source = smtTrainHead + text + "\n\n### Response:\n"; target = r.Output
// with every literal "</s>" removed; the caller appends EOS. The reference
// (get_output_or_chosen) uses the answer field only when the record has no
// output key at all; a present but empty output gives an empty target (three
// records of LLM-Adapters' math_data.json are like that). A Record cannot
// tell an absent key from an empty one, so a reader of data without output
// keys should copy the answer into Output itself.
//
// Evaluation (run_commonsense_parallel.py): smtEvalHead + text +
// "\n\n### Response:\n". Quirk: the reference fills its evaluation prompt
// with i_prompt.format_map(example), i.e. always the record's instruction
// field, ignoring input. Every LLM-Adapters test set has an empty input, so
// the two agree on them; for other data Eval uses the training rule (input
// if non-empty, else instruction) so that a model is asked at test time what
// it was trained on.
type SMT struct{}

// Name returns "smt".
func (SMT) Name() string { return "smt" }

// AddBOS returns false: the text starts with a literal "<s>".
func (SMT) AddBOS() bool { return false }

func smtText(r Record) string {
	if r.Input != "" {
		return r.Input
	}
	return r.Instruction
}

// Train returns the SMT training source and target of r.
func (SMT) Train(r Record) (source, target string) {
	return smtTrainHead + smtText(r) + smtTail, strings.ReplaceAll(r.Output, "</s>", "")
}

// Eval returns the SMT evaluation prompt of r.
func (SMT) Eval(r Record) string {
	return smtEvalHead + smtText(r) + smtTail
}
