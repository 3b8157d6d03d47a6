package evaluate

import (
	"fmt"
	"time"

	"github.com/smt-go/smt/pkg/cmdutil"
)

// meter reports the progress of a run: per task and overall, with the rate
// of this session's generation and the time left.
type meter struct {
	prog        *cmdutil.Progress
	total, done int // examples of the whole run; done includes resumed ones
	start       time.Time
	generated   int // examples generated in this session
}

func newMeter(prog *cmdutil.Progress, total, done int) *meter {
	return &meter{prog: prog, total: total, done: done, start: time.Now()}
}

// add counts n finished examples (generated is false for prompts skipped
// without generation) and reports task progress.
func (m *meter) add(task string, n int, generated bool, taskDone, taskTotal int) {
	m.done += n
	if generated {
		m.generated += n
	}
	rate := 0.0
	if el := time.Since(m.start).Seconds(); el > 0 {
		rate = float64(m.generated) / el
	}
	eta := -1.0
	if rate > 0 {
		eta = float64(m.total-m.done) / rate
	}
	msg := fmt.Sprintf("%s %d/%d · all %d/%d · %.2f examples/s · ETA %s", task, taskDone, taskTotal, m.done, m.total, rate, fmtETA(eta))
	m.prog.Event("progress", msg, map[string]any{
		"task": task, "task_done": taskDone, "task_total": taskTotal,
		"done": m.done, "total": m.total, "examples_per_s": rate, "eta_s": eta,
	})
}

func fmtETA(s float64) string {
	if s < 0 {
		return "?"
	}
	return (time.Duration(s) * time.Second).Round(time.Second).String()
}
