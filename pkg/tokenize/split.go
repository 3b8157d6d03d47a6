package tokenize

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// InEvalByFraction reports whether the record with global index idx falls
// in an eval split of the given fraction under seed: a hash of (seed, idx)
// mapped to [0, 1) is below fraction.
func InEvalByFraction(seed, idx int64, fraction float64) bool {
	h := mix64(mix64(uint64(seed)+0x9e3779b97f4a7c15) ^ uint64(idx))
	return float64(h>>11)/(1<<53) < fraction
}

// EvalSample returns k distinct ordinals out of [0, n), sorted, chosen
// uniformly with a generator seeded by seed (Floyd's algorithm: memory
// proportional to k).
func EvalSample(seed int64, n, k int64) ([]int64, error) {
	if k < 0 || k >= n {
		return nil, fmt.Errorf("tokenize: an eval split of %d records needs more than %d usable records", k, n)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x736d742d6576616c)) // "smt-eval"
	chosen := make(map[int64]struct{}, k)
	for j := n - k; j < n; j++ {
		t := rng.Int64N(j + 1)
		if _, ok := chosen[t]; ok {
			t = j
		}
		chosen[t] = struct{}{}
	}
	out := make([]int64, 0, k)
	for t := range chosen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}

// evalChooser decides record by record, in order, which records go to the
// eval split.
type evalChooser struct {
	split  EvalSplit
	seed   int64
	sample []int64 // count mode: sorted ordinals of usable records
	next   int     // index into sample
}

// inEval is called once per usable record, in order, with its global index
// and its ordinal among usable records.
func (c *evalChooser) inEval(idx, ordinal int64) bool {
	switch {
	case c.split.Count > 0:
		if c.next < len(c.sample) && c.sample[c.next] == ordinal {
			c.next++
			return true
		}
		return false
	case c.split.Fraction > 0:
		return InEvalByFraction(c.seed, idx, c.split.Fraction)
	}
	return false
}
