package prompt

// Raw uses the record's own text with no wrapper: the source is
// r.Instruction, followed by "\n" and r.Input when the input is non-empty,
// and the target is r.Output, concatenated as they are (put any separator in
// the data). It is for data that is already formatted, and for base-model
// baselines. Training and evaluation prompts are the same; the caller
// appends EOS to the target.
type Raw struct{}

// Name returns "raw".
func (Raw) Name() string { return "raw" }

// AddBOS returns true.
func (Raw) AddBOS() bool { return true }

// Train returns the raw source and target of r.
func (w Raw) Train(r Record) (source, target string) {
	return w.Eval(r), r.Output
}

// Eval returns the raw prompt of r.
func (Raw) Eval(r Record) string {
	if r.Input != "" {
		return r.Instruction + "\n" + r.Input
	}
	return r.Instruction
}
