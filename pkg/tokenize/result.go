package tokenize

import (
	"fmt"
	"io"
	"time"

	"github.com/smt-go/smt/pkg/shards"
)

// Result describes a finished Run.
type Result struct {
	// Out is the shard directory written.
	Out string
	// Manifest is what was written to Out/manifest.json.
	Manifest *shards.Manifest
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// AddsBOS and BOSReason tell whether and why a BOS id was added.
	AddsBOS   bool
	BOSReason string
}

// Kept returns the number of examples written over all splits.
func (r *Result) Kept() int64 {
	var n int64
	for _, s := range r.Manifest.Splits {
		n += s.Records
	}
	return n
}

// Tokens returns the tokens written over all splits.
func (r *Result) Tokens() int64 {
	var n int64
	for _, s := range r.Manifest.Splits {
		n += s.Tokens
	}
	return n
}

// LossTokens returns the loss tokens written over all splits.
func (r *Result) LossTokens() int64 {
	var n int64
	for _, s := range r.Manifest.Splits {
		n += s.LossTokens
	}
	return n
}

// TokensPerSecond is Tokens over Elapsed.
func (r *Result) TokensPerSecond() float64 {
	return float64(r.Tokens()) / r.Elapsed.Seconds()
}

// WriteSummary prints the human summary of the run.
func (r *Result) WriteSummary(w io.Writer) {
	m := r.Manifest
	c := m.Counts
	fmt.Fprintf(w, "output:      %s\n", r.Out)
	fmt.Fprintf(w, "records:     %d read, %d kept, %d truncated, %d dropped, %d skipped (malformed), %d without targets\n",
		c.Records, r.Kept(), c.Truncated, c.Dropped, c.SkippedBad, c.NoTargets)
	fmt.Fprintf(w, "tokens:      %d (%d loss tokens)\n", r.Tokens(), r.LossTokens())
	for _, name := range []string{TrainSplit, EvalSplitName} {
		s, ok := m.Splits[name]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %-9s  %d examples, %d tokens, %d loss tokens, longest %d, %d shard(s)\n",
			name+":", s.Records, s.Tokens, s.LossTokens, s.MaxLen, len(s.Shards))
	}
	bos := "no BOS"
	if r.AddsBOS {
		bos = "BOS added"
	}
	fmt.Fprintf(w, "template:    %s, max_len %d (%s), train_on_inputs %v, %s (%s)\n", m.Template, m.MaxLen, m.Overflow, m.TrainOnInputs, bos, r.BOSReason)
	if c.NoTargets > 0 {
		fmt.Fprintf(w, "warning:     %d examples have no loss token (--max-len %d cut their whole response); use a larger --max-len or --overflow drop\n", c.NoTargets, m.MaxLen)
	}
	fmt.Fprintf(w, "rate:        %s tokens/s, %.0f records/s (%s)\n", human(r.TokensPerSecond()), float64(c.Records)/r.Elapsed.Seconds(), r.Elapsed.Round(time.Millisecond))
}
