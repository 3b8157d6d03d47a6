package blocks

import (
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/blocks/blockstest"
)

func TestParseBudget(t *testing.T) {
	cases := []struct {
		spec string
		want Budget
	}{
		{"890", Budget{Kind: BudgetCount, Count: 890}},
		{" 890 blocks ", Budget{Kind: BudgetCount, Count: 890}},
		{"1 block", Budget{Kind: BudgetCount, Count: 1}},
		{"1", Budget{Kind: BudgetCount, Count: 1}},
		{"0.84%", Budget{Kind: BudgetRatio, Ratio: 0.0084}},
		{"0.84 %", Budget{Kind: BudgetRatio, Ratio: 0.0084}},
		{"100%", Budget{Kind: BudgetRatio, Ratio: 1}},
		{"8.4e-1%", Budget{Kind: BudgetRatio, Ratio: 0.0084}},
		{"0.0084", Budget{Kind: BudgetRatio, Ratio: 0.0084}},
		{".0084", Budget{Kind: BudgetRatio, Ratio: 0.0084}},
		{"8.4e-3", Budget{Kind: BudgetRatio, Ratio: 0.0084}},
		{"58M", Budget{Kind: BudgetParams, Params: 58_000_000}},
		{"58m", Budget{Kind: BudgetParams, Params: 58_000_000}},
		{"58.3M", Budget{Kind: BudgetParams, Params: 58_300_000}},
		{"58.3e6 params", Budget{Kind: BudgetParams, Params: 58_300_000}},
		{"58.3E6 Parameters", Budget{Kind: BudgetParams, Params: 58_300_000}},
		{"58327040 params", Budget{Kind: BudgetParams, Params: 58_327_040}},
		{"1 param", Budget{Kind: BudgetParams, Params: 1}},
		{"500K", Budget{Kind: BudgetParams, Params: 500_000}},
		{"1.2B", Budget{Kind: BudgetParams, Params: 1_200_000_000}},
		{"1.2g params", Budget{Kind: BudgetParams, Params: 1_200_000_000}},
		{"2.5 params", Budget{Kind: BudgetParams, Params: 2}},
		{"all", Budget{Kind: BudgetAll}},
		{"ALL", Budget{Kind: BudgetAll}},
		{"", Budget{Kind: BudgetNone}},
	}
	for _, c := range cases {
		got, err := ParseBudget(c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		c.want.Spec = c.spec
		if got != c.want {
			t.Errorf("%q = %+v, want %+v", c.spec, got, c.want)
		}
	}
}

func TestParseBudgetErrors(t *testing.T) {
	cases := map[string]string{
		"0":            "positive",
		"0%":           "positive",
		"0.0":          "positive",
		"-5":           "want a block count",
		"1.5":          "ambiguous",
		"890.0":        "ambiguous",
		"1.0":          "ambiguous",
		"1e3":          "ambiguous",
		"120%":         "over 100%",
		"2.5 blocks":   "whole number",
		"58M blocks":   "multiplier",
		"0.84% params": "percentage takes no",
		"0.84%%":       "want a block count",
		"NaN":          "want a block count",
		"inf":          "want a block count",
		"lots":         "want a block count",
		"5 apples":     "want a block count",
		"1e40 params":  "too many parameters",
		"99999999999":  "too many blocks",
		"58 M M":       "want a block count",
	}
	for spec, want := range cases {
		_, err := ParseBudget(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", spec, err, want)
		}
	}
}

// TestReferenceArithmetic checks the released code's budget rule on the
// worked numbers of SMT-REFERENCE §1.5.
func TestReferenceArithmetic(t *testing.T) {
	llama7b := blockstest.LLaMA7B.Params2D()
	if llama7b != 6_738_149_376 {
		t.Fatalf("LLaMA-7B 2-D parameters %d, want 6,738,149,376", llama7b)
	}
	// total_blocks = Σ (rows/256)(cols/256) over every 2-D weight:
	// 32 layers × (4·256 + 3·688) + 2 × 125·16 = 102,816. SMT-REFERENCE
	// writes 102,817; both give 863 blocks at 0.0084.
	if tb := TotalBlocks(llama7b, 256); tb != 102_816 {
		t.Fatalf("LLaMA-7B total blocks %v, want 102,816", tb)
	}
	llama3 := blockstest.Model{Layers: 32, Hidden: 4096, KV: 1024, FFN: 14336, Vocab: 128256}.Params2D()
	cases := []struct {
		spec     string
		params2D int64
		want     int
	}{
		{"0.0084", llama7b, 863},
		{"0.84%", llama7b, 863},
		{"0.0084", 102_817 * 65536, 863},
		{"0.84%", llama3, 1029}, // LLaMA-3-8B, 122,528 blocks
		{"0.71%", llama3, 869},  // int(869.95): truncated, not rounded
		{"890", llama7b, 890},
		{"58.3M", llama7b, 889}, // floor(58.3e6 / 65536) = floor(889.6)
		{"58327040 params", llama7b, 890},
		{"58327039 params", llama7b, 889},
		{"all", llama7b, 24576},
	}
	for _, c := range cases {
		b, err := ParseBudget(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		n, err := b.Resolve(c.params2D, 256, 24576)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
		} else if n != c.want {
			t.Errorf("%s of %d 2-D parameters = %d blocks, want %d", c.spec, c.params2D, n, c.want)
		}
	}
	// 863 blocks are 56.56M parameters, 0.839% of the model.
	if p := 863 * 65536; p != 56_557_568 || float64(p)/float64(llama7b) < 0.00839 || float64(p)/float64(llama7b) > 0.00840 {
		t.Errorf("863 blocks = %d params", p)
	}
}

func TestResolveErrors(t *testing.T) {
	cases := []struct {
		spec     string
		params2D int64
		pool     int
		want     string
	}{
		{"100", 1 << 30, 99, "more than the 99 in the pool"},
		{"50%", 1 << 30, 99, "more than the 99"},
		{"0.001%", 1 << 20, 99, "less than one block"},
		{"1000 params", 1 << 30, 99, "less than one 256×256 block"},
		{"0.5", 0, 99, "give a block count"},
		{"all", 1 << 30, 0, "pool is empty"},
	}
	for _, c := range cases {
		b, _ := ParseBudget(c.spec)
		_, err := b.Resolve(c.params2D, 256, c.pool)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.spec, err, c.want)
		}
	}
	if _, err := (Budget{}).Resolve(1, 1, 1); err != ErrNoBudget {
		t.Errorf("empty budget: %v", err)
	}
}
