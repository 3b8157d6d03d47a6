package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of each optimizer step.
type Schedule struct {
	Kind   string  // "linear" (warm-up then linear decay to 0), "cosine" or "constant" (after warm-up)
	Peak   float64 // the learning rate after warm-up
	Warmup int     // steps of linear warm-up from 0
	Total  int     // total optimizer steps (for the decay)
}

// ParseScheduleKind checks a schedule name.
func ParseScheduleKind(s string) error {
	switch s {
	case "linear", "cosine", "constant":
		return nil
	}
	return fmt.Errorf("unknown learning-rate schedule %q (want linear, cosine or constant)", s)
}

// LR returns the learning rate of optimizer step s (0-based), following
// Hugging Face's schedulers: warm-up lr·s/W for s < W, then for "linear"
// lr·(Total−s)/(Total−W), for "cosine" lr·½(1+cos(π·progress)).
func (sc Schedule) LR(s int) float64 {
	if s < sc.Warmup {
		return sc.Peak * float64(s) / float64(sc.Warmup)
	}
	rest := sc.Total - sc.Warmup
	if rest <= 0 {
		return sc.Peak
	}
	progress := float64(s-sc.Warmup) / float64(rest)
	switch sc.Kind {
	case "linear":
		return sc.Peak * math.Max(0, 1-progress)
	case "cosine":
		return sc.Peak * 0.5 * (1 + math.Cos(math.Pi*math.Min(progress, 1)))
	}
	return sc.Peak
}
