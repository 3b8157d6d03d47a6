package blocks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/blocks/blockstest"
)

func TestSummary(t *testing.T) {
	// o is scored but no attn pool holds it: shown, marked not selectable.
	sm, sb := blockstest.Scores(small, 16, []string{"q", "k", "v", "o"}, map[string]float32{"v": 3}, 12)
	res := mustSelect(t, sm, sb, Options{Policy: PolicyAttn, Score: "mean_abs", Budget: mustBudget(t, "10")})
	s := Summarize(res)
	if s.Selected != 10 || s.Params != 10*256 || len(s.Kinds) != 4 || len(s.PerLayer) != 4 {
		t.Fatalf("summary %+v", s)
	}
	total := 0
	for _, k := range s.Kinds {
		total += k.Selected
		if k.Kind == "o" && (k.Selectable || k.Selected != 0) || k.Kind != "o" && !k.Selectable {
			t.Errorf("kind %+v", k)
		}
		if k.Kind == "q" && (k.Blocks != 4*16 || k.GridRows != 4 || k.GridCols != 4) {
			t.Errorf("q: %+v", k)
		}
	}
	layers := 0
	for _, l := range s.PerLayer {
		layers += l.Total
	}
	if total != 10 || layers != 10 {
		t.Fatalf("kinds add to %d, layers to %d", total, layers)
	}
	var b strings.Builder
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"selected   10 blocks of 16×16 = 2560 parameters", "  all  "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	lines := map[string]bool{}
	for _, line := range strings.Split(b.String(), "\n") {
		lines[strings.Join(strings.Fields(line), " ")] = true
	}
	for _, want := range []string{"layer q k v o total", "o - 64 0.00% 4×4", "all 0 0 10 0 10"} {
		if !lines[want] {
			t.Errorf("no line %q:\n%s", want, b.String())
		}
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 102816: "102,816", 6738149376: "6,738,149,376", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %s, want %s", n, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512", 12288: "12.3K", 56557568: "56.56M", 6738149376: "6.74B"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %s, want %s", n, got, want)
		}
	}
}
