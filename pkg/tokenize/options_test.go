package tokenize

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/smt-go/smt/pkg/prompt"
)

// TestTrainOnInputs: every mask value is 1 except the first.
func TestTrainOnInputs(t *testing.T) {
	data := arcEasy(t)
	tok := loadTok(t, tokenizers(t)["stories260K"])
	out := filepath.Join(t.TempDir(), "shards")
	res := runT(t, Options{Tokenizer: tok, Inputs: []string{data}, Out: out, MaxLen: 2048, TrainOnInputs: true})
	if !res.Manifest.TrainOnInputs {
		t.Error("manifest train_on_inputs is false")
	}
	exs := readSplit(t, out, TrainSplit)
	var loss int64
	for _, ex := range exs {
		if ex.Mask[0] != 0 || slices.Contains(ex.Mask[1:], 0) {
			t.Fatalf("record %d: mask %v", ex.Record, ex.Mask)
		}
		loss += int64(len(ex.Mask) - 1)
	}
	if len(exs) != 2251 || res.LossTokens() != loss || res.Tokens()-res.LossTokens() != int64(len(exs)) {
		t.Errorf("%d examples, %d tokens, %d loss tokens", len(exs), res.Tokens(), res.LossTokens())
	}
}

// TestMaxLen: with a max length below many examples' length, truncate keeps
// the first max-len tokens of each (and counts those and the ones left
// without targets), and drop leaves them out; the counts match a direct
// computation.
func TestMaxLen(t *testing.T) {
	data := arcEasy(t)
	recs := readRecords(t, data)
	tok := loadTok(t, tokenizers(t)["llama2"])
	tmpl, _ := prompt.Get("smt")
	enc, err := NewEncoder(tok, tmpl, EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	full := make([][]int32, len(recs))
	promptLen := make([]int, len(recs))
	for i, r := range recs {
		var ex exampleBuf
		_, promptLen[i] = enc.Encode(r, &ex.Example)
		full[i] = ex.IDs
	}
	// Half of the prompts are longer than maxLen.
	sorted := slices.Sorted(slices.Values(promptLen))
	maxLen := sorted[len(sorted)/2] + 2
	var long, noTargets int64
	for i := range recs {
		if len(full[i]) > maxLen {
			long++
			if promptLen[i] >= maxLen {
				noTargets++
			}
		}
	}
	if long < 100 || long > int64(len(recs))-100 || noTargets == 0 {
		t.Fatalf("test data: %d of %d records longer than %d, %d without targets after truncation; pick another max length", long, len(recs), maxLen, noTargets)
	}

	dir := t.TempDir()
	res := runT(t, Options{Tokenizer: tok, Inputs: []string{data}, Out: filepath.Join(dir, "trunc"), MaxLen: maxLen, Overflow: Truncate})
	c := res.Manifest.Counts
	if c.Truncated != long || c.Dropped != 0 || c.NoTargets != noTargets || res.Kept() != int64(len(recs)) {
		t.Errorf("truncate: counts %+v kept %d, want truncated %d, no_targets %d", c, res.Kept(), long, noTargets)
	}
	for _, ex := range readSplit(t, filepath.Join(dir, "trunc"), TrainSplit) {
		want := full[ex.Record]
		if len(want) > maxLen {
			want = want[:maxLen]
		}
		if !slices.Equal(ex.IDs, want) || len(ex.Mask) != len(want) {
			t.Fatalf("record %d: %d ids, want the first %d", ex.Record, len(ex.IDs), len(want))
		}
	}
	if res.Manifest.Splits[TrainSplit].MaxLen != maxLen {
		t.Errorf("longest example %d", res.Manifest.Splits[TrainSplit].MaxLen)
	}

	res = runT(t, Options{Tokenizer: tok, Inputs: []string{data}, Out: filepath.Join(dir, "drop"), MaxLen: maxLen, Overflow: Drop})
	c = res.Manifest.Counts
	if c.Dropped != long || c.Truncated != 0 || c.NoTargets != 0 || res.Kept() != int64(len(recs))-long || res.Manifest.Overflow != "drop" {
		t.Errorf("drop: counts %+v kept %d, want dropped %d", c, res.Kept(), long)
	}
	for _, ex := range readSplit(t, filepath.Join(dir, "drop"), TrainSplit) {
		if !slices.Equal(ex.IDs, full[ex.Record]) {
			t.Fatalf("record %d changed", ex.Record)
		}
	}
}

// evalRecords runs with an eval split and returns the eval split's record
// indices (and checks that train and eval partition the records).
func evalRecords(t *testing.T, data string, split EvalSplit, seed int64) []int64 {
	t.Helper()
	tok := loadTok(t, tokenizers(t)["stories260K"])
	out := filepath.Join(t.TempDir(), "shards")
	res := runT(t, Options{Tokenizer: tok, Inputs: []string{data}, Out: out, MaxLen: 2048, EvalSplit: split, Seed: seed})
	var ev []int64
	seen := map[int64]bool{}
	for _, name := range []string{TrainSplit, EvalSplitName} {
		for _, ex := range readSplit(t, out, name) {
			if seen[ex.Record] {
				t.Fatalf("record %d in both splits", ex.Record)
			}
			seen[ex.Record] = true
			if name == EvalSplitName {
				ev = append(ev, ex.Record)
			}
		}
	}
	if len(seen) != 2251 || res.Manifest.EvalSplit != split.String() || res.Manifest.Seed != seed {
		t.Errorf("%d records in the splits; manifest eval_split %q seed %d", len(seen), res.Manifest.EvalSplit, res.Manifest.Seed)
	}
	return ev
}

// TestEvalSplit: a fraction and a count give the same eval records for the
// same seed and different ones for another seed; a count is exact, a
// fraction close.
func TestEvalSplit(t *testing.T) {
	data := arcEasy(t)
	for _, split := range []EvalSplit{{Fraction: 0.2}, {Count: 120}} {
		a := evalRecords(t, data, split, 1)
		b := evalRecords(t, data, split, 1)
		c := evalRecords(t, data, split, 2)
		if !slices.Equal(a, b) {
			t.Errorf("%v: seed 1 twice gives different eval splits", split)
		}
		if slices.Equal(a, c) {
			t.Errorf("%v: seeds 1 and 2 give the same eval split", split)
		}
		switch {
		case split.Count > 0 && (len(a) != 120 || len(c) != 120):
			t.Errorf("count 120: eval splits of %d and %d records", len(a), len(c))
		case split.Fraction > 0 && (len(a) < 400 || len(a) > 500):
			t.Errorf("fraction 0.2 of 2251: %d eval records", len(a))
		}
	}
}

// TestEvalSample: the sample is sorted, distinct, in range, and uniform
// enough that every ordinal can be chosen.
func TestEvalSample(t *testing.T) {
	hits := make([]int, 10)
	for seed := int64(0); seed < 200; seed++ {
		s, err := EvalSample(seed, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 3 || !slices.IsSorted(s) || s[0] == s[1] || s[1] == s[2] || s[0] < 0 || s[2] >= 10 {
			t.Fatalf("seed %d: %v", seed, s)
		}
		for _, v := range s {
			hits[v]++
		}
	}
	for i, h := range hits {
		if h < 30 || h > 90 { // expect 60
			t.Errorf("ordinal %d chosen %d times of 200", i, h)
		}
	}
	if _, err := EvalSample(1, 5, 5); err == nil {
		t.Error("an eval split as large as the data set is accepted")
	}
}

// TestParseEvalSplit covers the accepted spellings and the errors.
func TestParseEvalSplit(t *testing.T) {
	good := map[string]EvalSplit{"": {}, "0": {}, "0.2": {Fraction: 0.2}, "20%": {Fraction: 0.2}, "120": {Count: 120}, " 1 ": {Count: 1}, ".5": {Fraction: 0.5}}
	for s, want := range good {
		got, err := ParseEvalSplit(s)
		if err != nil || got != want {
			t.Errorf("ParseEvalSplit(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"1.0", "1.5", "-3", "abc", "100%", "0%", "NaN", "-0.1"} {
		if got, err := ParseEvalSplit(s); err == nil {
			t.Errorf("ParseEvalSplit(%q) = %+v, want an error", s, got)
		}
	}
}
