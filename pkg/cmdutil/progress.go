package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Progress reports the progress of long work on stderr: one human-readable
// line per event, or one JSON object per line with --json, or nothing with
// --quiet. It is safe for concurrent use.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	quiet bool
	stage string
	start time.Time
}

// NewProgress returns a reporter for the named stage following the common
// flags.
func NewProgress(stage string, c Common) *Progress {
	return &Progress{w: os.Stderr, json: c.JSON, quiet: c.Quiet, stage: stage, start: time.Now()}
}

// SetWriter redirects the output (tests use it).
func (p *Progress) SetWriter(w io.Writer) { p.mu.Lock(); p.w = w; p.mu.Unlock() }

// Event reports one event. msg is the human text; fields are written
// as-is in JSON mode (with "stage", "event", "elapsed_s" added), and as
// key=value pairs after msg otherwise.
func (p *Progress) Event(event, msg string, fields map[string]any) {
	if p == nil || p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		obj := map[string]any{"stage": p.stage, "event": event, "elapsed_s": time.Since(p.start).Seconds()}
		for k, v := range fields {
			obj[k] = v
		}
		if msg != "" {
			obj["msg"] = msg
		}
		b, _ := json.Marshal(obj)
		p.w.Write(append(b, '\n'))
		return
	}
	var sb strings.Builder
	sb.WriteString(p.stage)
	sb.WriteString(": ")
	sb.WriteString(msg)
	if len(fields) > 0 && msg == "" {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(' ')
			}
			fmt.Fprintf(&sb, "%s=%v", k, fields[k])
		}
	}
	sb.WriteByte('\n')
	io.WriteString(p.w, sb.String())
}

// Printf reports a free-form human line (an "info" event in JSON mode).
func (p *Progress) Printf(format string, args ...any) {
	p.Event("info", fmt.Sprintf(format, args...), nil)
}
