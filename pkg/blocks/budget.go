package blocks

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
)

// BudgetKind says how a budget spec counts.
type BudgetKind int

// Budget kinds.
const (
	BudgetNone   BudgetKind = iota // no budget given
	BudgetCount                    // a number of blocks
	BudgetRatio                    // a fraction of all 2-D parameter blocks of the model
	BudgetParams                   // a number of parameters
	BudgetAll                      // every block of the pool
)

// Budget is a parsed --budget spec. The forms (case-insensitive, spaces
// between the number and its unit allowed):
//
//	890, 890 blocks      a block count: an integer
//	0.84%                a percentage (0 < p ≤ 100) of the model's 2-D parameter blocks
//	0.0084, 8.4e-3       a fraction (0 < f < 1) of them: a number with a decimal point or
//	                     exponent and no unit
//	58M, 58.3e6 params   a parameter count: a number with K (10³), M (10⁶) or B/G (10⁹),
//	                     and/or the word params or parameters
//	all                  every block of the pool
//
// A ratio resolves as the released SMT code does: n = int(ratio ×
// total_blocks), with total_blocks = model_params_2d / S² as a float64
// (every 2-D weight, embeddings and head included) and the ratio the
// float64 nearest to the decimal written (0.84% is exactly 0.0084). A
// parameter count resolves to n = floor(params / S²). Refused as ambiguous
// or invalid: unsuffixed non-integers of 1 or more (is "1.5" blocks or
// 150%?), fractional block counts, multipliers on block counts,
// percentages over 100, zero, negatives, NaN, infinities and anything
// else.
type Budget struct {
	Spec   string // as given
	Kind   BudgetKind
	Count  int64   // BudgetCount
	Ratio  float64 // BudgetRatio
	Params int64   // BudgetParams (the value written, rounded down)
}

var budgetRE = regexp.MustCompile(`^((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(%|k|m|b|g)?\s*(blocks?|params?|parameters?)?$`)

// ParseBudget parses a budget spec (see Budget). An empty spec gives
// BudgetNone.
func ParseBudget(spec string) (Budget, error) {
	b := Budget{Spec: spec}
	s := strings.ToLower(strings.TrimSpace(spec))
	if s == "" {
		return b, nil
	}
	if s == "all" {
		b.Kind = BudgetAll
		return b, nil
	}
	m := budgetRE.FindStringSubmatch(s)
	if m == nil {
		return b, fmt.Errorf("budget %q: want a block count (890), a percentage (0.84%%), a fraction (0.0084), a parameter count (58M, 58.3e6 params) or all", spec)
	}
	num, unit, word := m[1], m[2], m[3]
	val, ok := new(big.Rat).SetString(num)
	if !ok {
		return b, fmt.Errorf("budget %q: bad number %q", spec, num)
	}
	if val.Sign() <= 0 {
		return b, fmt.Errorf("budget %q must be positive", spec)
	}
	isInt := !strings.ContainsAny(num, ".e")
	word = strings.TrimSuffix(word, "s")
	switch {
	case unit == "%":
		if word != "" {
			return b, fmt.Errorf("budget %q: a percentage takes no %q", spec, m[3])
		}
		val.Quo(val, big.NewRat(100, 1))
		if val.Cmp(big.NewRat(1, 1)) > 0 {
			return b, fmt.Errorf("budget %q is over 100%%", spec)
		}
		b.Kind, b.Ratio = BudgetRatio, ratFloat(val)
	case unit != "" || word == "param" || word == "parameter":
		if word == "block" {
			return b, fmt.Errorf("budget %q: a block count takes no multiplier %q (write the number of blocks, or a parameter count like 58M)", spec, unit)
		}
		val.Mul(val, big.NewRat(map[string]int64{"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}[unit], 1))
		q := new(big.Int).Quo(val.Num(), val.Denom())
		if !q.IsInt64() || q.Int64() > math.MaxInt64/2 {
			return b, fmt.Errorf("budget %q: too many parameters", spec)
		}
		b.Kind, b.Params = BudgetParams, q.Int64()
	case word == "block" || isInt:
		if !isInt {
			return b, fmt.Errorf("budget %q: a block count must be a whole number", spec)
		}
		if !val.IsInt() || !val.Num().IsInt64() || val.Num().Int64() > math.MaxInt32 {
			return b, fmt.Errorf("budget %q: too many blocks", spec)
		}
		b.Kind, b.Count = BudgetCount, val.Num().Int64()
	default:
		if val.Cmp(big.NewRat(1, 1)) >= 0 {
			return b, fmt.Errorf("budget %q is ambiguous: write a whole number of blocks (890), a percentage (%s%%) or a fraction below 1", spec, num)
		}
		b.Kind, b.Ratio = BudgetRatio, ratFloat(val)
	}
	return b, nil
}

// ratFloat returns the float64 nearest to r.
func ratFloat(r *big.Rat) float64 {
	f, _ := r.Float64()
	return f
}

// IsZero reports whether no budget was given.
func (b Budget) IsZero() bool { return b.Kind == BudgetNone }

// TotalBlocks returns the reference's budget base: the model's 2-D
// parameters divided by S², as a float64 (not rounded).
func TotalBlocks(modelParams2D int64, blockSize int) float64 {
	return float64(modelParams2D) / (float64(blockSize) * float64(blockSize))
}

// ErrNoBudget is returned by Resolve for a budget that was not given.
var ErrNoBudget = errors.New("no budget given")

// Resolve returns the number of blocks the budget allows in a pool of
// poolSize blocks, for a model with modelParams2D 2-D parameters and
// blocks of side S. It is an error for the budget to resolve to 0 blocks
// or to more than the pool holds (the budget is not clamped: a budget
// beyond the pool is a mistake about the pool or the model; "all" asks
// for the whole pool).
func (b Budget) Resolve(modelParams2D int64, S, poolSize int) (int, error) {
	var n int64
	switch b.Kind {
	case BudgetNone:
		return 0, ErrNoBudget
	case BudgetAll:
		n = int64(poolSize)
	case BudgetCount:
		n = b.Count
	case BudgetParams:
		n = b.Params / (int64(S) * int64(S))
		if n == 0 {
			return 0, fmt.Errorf("budget %q is %d parameters, less than one %d×%d block (%d parameters)", b.Spec, b.Params, S, S, S*S)
		}
	case BudgetRatio:
		if modelParams2D <= 0 {
			return 0, fmt.Errorf("budget %q is a fraction of the model's 2-D parameters, but the scores do not give model_params_2d: give a block count", b.Spec)
		}
		total := TotalBlocks(modelParams2D, S)
		f := b.Ratio * total
		if f > float64(math.MaxInt32) {
			n = math.MaxInt32
		} else {
			n = int64(f) // truncation, as Python's int()
		}
		if n == 0 {
			return 0, fmt.Errorf("budget %q of %.6g model blocks (%d 2-D parameters / %d²) is less than one block", b.Spec, total, modelParams2D, S)
		}
	}
	if n > int64(poolSize) {
		return 0, fmt.Errorf("budget %q is %d blocks, more than the %d in the pool (use all to select every block)", b.Spec, n, poolSize)
	}
	if n <= 0 {
		return 0, fmt.Errorf("budget %q selects no blocks: the pool is empty", b.Spec)
	}
	return int(n), nil
}

// Explain says how the budget resolves, e.g. "0.84% × 102816 model blocks
// = 863.65 → 863" (the caller has checked that Resolve succeeds).
func (b Budget) Explain(modelParams2D int64, S, poolSize int) string {
	n, err := b.Resolve(modelParams2D, S, poolSize)
	if err != nil {
		return err.Error()
	}
	switch b.Kind {
	case BudgetRatio:
		total := TotalBlocks(modelParams2D, S)
		return fmt.Sprintf("%s × %.6g model blocks = %.6g → %d blocks", b.Spec, total, b.Ratio*total, n)
	case BudgetParams:
		return fmt.Sprintf("%s = %d params / %d per block → %d blocks", b.Spec, b.Params, S*S, n)
	case BudgetAll:
		return fmt.Sprintf("all → %d blocks", n)
	}
	return fmt.Sprintf("%d blocks", n)
}
