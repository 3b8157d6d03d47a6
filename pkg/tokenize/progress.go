package tokenize

import (
	"fmt"
	"time"

	"github.com/smt-go/smt/pkg/cmdutil"
)

// progressEvery is the time between progress events.
const progressEvery = time.Second

// progress reports records, tokens, rate and ETA while the writer runs.
type progress struct {
	p          *cmdutil.Progress
	start      time.Time
	last       time.Time
	totalBytes int64 // sum of the input sizes (-1: unknown)
	nRecords   int64
	nTokens    int64
}

func newProgress(p *cmdutil.Progress, totalBytes int64) *progress {
	now := time.Now()
	return &progress{p: p, start: now, last: now, totalBytes: totalBytes}
}

func (g *progress) add(tokens int)  { g.nTokens += int64(tokens) }
func (g *progress) records(n int64) { g.nRecords += n }

// maybeReport sends a progress event when progressEvery has passed.
func (g *progress) maybeReport(bytesRead int64) {
	if g.p == nil {
		return
	}
	now := time.Now()
	if now.Sub(g.last) < progressEvery {
		return
	}
	g.last = now
	secs := now.Sub(g.start).Seconds()
	rate := float64(g.nTokens) / secs
	fields := map[string]any{
		"records": g.nRecords, "tokens": g.nTokens, "tokens_per_s": rate, "bytes": bytesRead,
	}
	msg := fmt.Sprintf("%d records, %s tokens, %s tokens/s", g.nRecords, human(float64(g.nTokens)), human(rate))
	if g.totalBytes > 0 && bytesRead > 0 {
		frac := min(float64(bytesRead)/float64(g.totalBytes), 1)
		eta := secs/frac - secs
		fields["total_bytes"] = g.totalBytes
		fields["fraction"] = frac
		fields["eta_s"] = eta
		msg += fmt.Sprintf(", %.0f%%, ETA %s", 100*frac, time.Duration(eta*float64(time.Second)).Round(time.Second))
	}
	g.p.Event("progress", msg, fields)
}

// human formats a count with a k/M/G suffix.
func human(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2fG", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e4:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
