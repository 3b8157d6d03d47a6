package blocks

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/smt-go/smt/pkg/scores"
)

// Policy names a selection policy.
type Policy string

// Selection policies.
const (
	// PolicyAttn ranks the Q/K/V blocks of all layers in one pool and keeps
	// the global top n: the released code's default ("no_restriction").
	PolicyAttn Policy = "attn"
	// PolicyAttnMLP adds a separate gate/up/down pool with its own budget
	// (the released code with an MLP ratio > 0).
	PolicyAttnMLP Policy = "attn+mlp"
	// PolicyMixed ranks every scored block in one pool (the released
	// code's --no_limit_mixture); its budget is --budget plus --mlp-budget.
	PolicyMixed Policy = "mixed"
	// PolicyPerMatrix keeps the top n/M blocks of each of the M scored
	// matrices (the released code's "norm_dist").
	PolicyPerMatrix Policy = "per-matrix"
)

// Policies lists the policies.
var Policies = []Policy{PolicyAttn, PolicyAttnMLP, PolicyMixed, PolicyPerMatrix}

// ParsePolicy checks a policy name.
func ParsePolicy(s string) (Policy, error) {
	if !slices.Contains(Policies, Policy(s)) {
		return "", fmt.Errorf("unknown policy %q (want one of %v)", s, Policies)
	}
	return Policy(s), nil
}

// Options configures Select.
type Options struct {
	Policy Policy
	Score  string // a scores.arrow column or ScoreReference
	// Budget is the budget of the attention pool (attn, attn+mlp), of the
	// single pool (mixed, with MLPBudget added) or of all matrices
	// together (per-matrix, split evenly; the remainder is left unused).
	Budget Budget
	// MLPBudget is the MLP pool's budget: required by attn+mlp, optional
	// for mixed, refused by the other policies.
	MLPBudget Budget
	// Kinds, when not empty, restricts selection to these kinds.
	Kinds []string
}

// Check validates the options by themselves (without the scores).
func (o Options) Check() error {
	if _, err := ParsePolicy(string(o.Policy)); err != nil {
		return err
	}
	if err := CheckScore(o.Score); err != nil {
		return err
	}
	if o.Budget.IsZero() {
		return fmt.Errorf("no budget given")
	}
	switch o.Policy {
	case PolicyAttnMLP:
		if o.MLPBudget.IsZero() {
			return fmt.Errorf("policy %s needs an MLP budget", o.Policy)
		}
	case PolicyAttn, PolicyPerMatrix:
		if !o.MLPBudget.IsZero() {
			return fmt.Errorf("policy %s takes no MLP budget (use attn+mlp or mixed)", o.Policy)
		}
	}
	for _, k := range o.Kinds {
		if _, err := KindIndex(k); err != nil {
			return err
		}
	}
	return nil
}

// PoolResult describes one pool of a selection.
type PoolResult struct {
	Name      string   `json:"name"`
	Kinds     []string `json:"kinds"`     // kinds in the pool, layout order
	Matrices  int      `json:"matrices"`  // tensors in the pool
	Available int      `json:"available"` // blocks in the pool
	Budget    string   `json:"budget"`    // the spec(s) it was given
	Selected  int      `json:"selected"`  // blocks selected
	PerMatrix int      `json:"per_matrix,omitempty"`
	// Resolution says how the budget became a block count.
	Resolution string `json:"resolution"`
}

// Result is a selection: the file's metadata and rows, and the pools.
type Result struct {
	Meta    Meta
	Entries []Entry // in file order
	Pools   []PoolResult
}

// scored is a block with the score it is ranked by.
type scored struct {
	b     *scores.Block
	score float32
}

// better reports whether a ranks before b: higher score first; equal
// scores are broken as the released code's heap does, by the larger
// ((module name, layer), row, col) tuple, module names compared as strings
// ("down_proj" < "gate_proj" < "k_proj" < "o_proj" < "q_proj" < "up_proj" <
// "v_proj"). The order is total, so the result does not depend on the
// order of the scores file.
func better(a, b *scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	x, y := a.b, b.b
	if x.Kind != y.Kind {
		return x.Kind+"_proj" > y.Kind+"_proj"
	}
	if x.Layer != y.Layer {
		return x.Layer > y.Layer
	}
	if x.Row != y.Row {
		return x.Row > y.Row
	}
	return x.Col > y.Col
}

// Select picks blocks from scores (sm, sb as scores.Read returns them)
// following opt. A pool with no scored blocks, a budget that resolves to
// no blocks or more than the pool, a NaN score and a score column that is
// zero for a whole pool are errors.
func Select(sm scores.Meta, sb []scores.Block, opt Options) (*Result, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	if err := CheckShapes(sm); err != nil {
		return nil, err
	}
	present := map[string]bool{}
	for i := range sb {
		present[sb[i].Kind] = true
	}
	var scoredKinds []string
	for _, k := range Kinds {
		if present[k] {
			scoredKinds = append(scoredKinds, k)
		}
	}
	selectable := scoredKinds
	if len(opt.Kinds) > 0 {
		selectable = nil
		for _, k := range Kinds {
			if !slices.Contains(opt.Kinds, k) {
				continue
			}
			if !present[k] {
				return nil, fmt.Errorf("kind %s was not scored (the scores hold %s)", k, strings.Join(scoredKinds, ", "))
			}
			selectable = append(selectable, k)
		}
	}
	type poolDef struct {
		name  string
		kinds func(string) bool
		bud   []Budget
	}
	var defs []poolDef
	all := func(string) bool { return true }
	switch opt.Policy {
	case PolicyAttn:
		defs = []poolDef{{PoolAttn, IsQKV, []Budget{opt.Budget}}}
	case PolicyAttnMLP:
		defs = []poolDef{{PoolAttn, IsQKV, []Budget{opt.Budget}}, {PoolMLP, IsMLP, []Budget{opt.MLPBudget}}}
	case PolicyMixed:
		defs = []poolDef{{PoolMixed, all, []Budget{opt.Budget}}}
		if !opt.MLPBudget.IsZero() {
			defs[0].bud = append(defs[0].bud, opt.MLPBudget)
		}
	case PolicyPerMatrix:
		defs = []poolDef{{PoolMatrix, all, []Budget{opt.Budget}}}
	}
	res := &Result{Meta: Meta{BlockSize: sm.BlockSize, Policy: string(opt.Policy), Score: opt.Score,
		Budget: opt.Budget.Spec, MLPBudget: opt.MLPBudget.Spec, Kinds: selectable, Counts: map[string]int{},
		ModelHash: sm.ModelHash, Shapes: sm.Shapes, Layers: sm.Layers, ModelParams2D: sm.ModelParams2D, Steps: sm.Steps}}
	for _, d := range defs {
		var kinds []string
		for _, k := range selectable {
			if d.kinds(k) {
				kinds = append(kinds, k)
			}
		}
		var pool []scored
		for i := range sb {
			b := &sb[i]
			if !slices.Contains(kinds, b.Kind) {
				continue
			}
			v := b.Scores[scoreIndex(opt.Score, b.Kind)]
			if math.IsNaN(float64(v)) {
				return nil, fmt.Errorf("block (%d, %d) of %s has a NaN score", b.Row, b.Col, b.Tensor)
			}
			pool = append(pool, scored{b, v})
		}
		if len(pool) == 0 {
			want := map[string]string{PoolAttn: "q, k, v", PoolMLP: "gate, up, down"}[d.name]
			if want == "" {
				want = "any kind"
			}
			held := strings.Join(scoredKinds, ", ")
			if len(selectable) < len(scoredKinds) {
				held += " (--kinds leaves " + strings.Join(selectable, ", ") + ")"
			}
			return nil, fmt.Errorf("pool %s (%s) has no scored blocks: the scores hold %s", d.name, want, held)
		}
		if !slices.ContainsFunc(pool, func(s scored) bool { return s.score != 0 }) {
			return nil, fmt.Errorf("pool %s: score %s is zero for all its %d blocks (not computed by warmup?)", d.name, opt.Score, len(pool))
		}
		pr := PoolResult{Name: d.name, Kinds: kinds, Available: len(pool)}
		n := 0
		var specs, how []string
		for _, b := range d.bud {
			m, err := b.Resolve(sm.ModelParams2D, sm.BlockSize, len(pool))
			if err != nil {
				return nil, fmt.Errorf("pool %s: %w", d.name, err)
			}
			n += m
			specs = append(specs, b.Spec)
			how = append(how, b.Explain(sm.ModelParams2D, sm.BlockSize, len(pool)))
		}
		pr.Budget, pr.Resolution = strings.Join(specs, " + "), strings.Join(how, "; ")
		if n > len(pool) {
			return nil, fmt.Errorf("pool %s: budget %s is %d blocks, more than the %d in the pool", d.name, pr.Budget, n, len(pool))
		}
		var entries []Entry
		var err error
		if d.name == PoolMatrix {
			entries, pr.Matrices, pr.PerMatrix, err = topPerMatrix(pool, n, opt.Budget.Kind == BudgetAll)
			res.Meta.PerMatrix = pr.PerMatrix
		} else {
			entries, pr.Matrices = topN(pool, n, d.name)
		}
		if err != nil {
			return nil, err
		}
		pr.Selected = len(entries)
		res.Meta.Counts[d.name] = len(entries)
		res.Entries = append(res.Entries, entries...)
		res.Pools = append(res.Pools, pr)
	}
	SortFile(res.Entries)
	return res, nil
}

// topN returns the n best blocks of a pool, ranked, and the number of
// tensors in the pool.
func topN(pool []scored, n int, name string) ([]Entry, int) {
	sort.Slice(pool, func(i, j int) bool { return better(&pool[i], &pool[j]) })
	tensors := map[string]bool{}
	for i := range pool {
		tensors[pool[i].b.Tensor] = true
	}
	out := make([]Entry, n)
	for i := range out {
		out[i] = entry(pool[i], i, name)
	}
	return out, len(tensors)
}

// topPerMatrix splits n evenly over the pool's tensors and returns the
// best n/M blocks of each (every block with all), the number of tensors M
// and the blocks per tensor.
func topPerMatrix(pool []scored, n int, all bool) ([]Entry, int, int, error) {
	by := map[string][]scored{}
	for _, s := range pool {
		by[s.b.Tensor] = append(by[s.b.Tensor], s)
	}
	M := len(by)
	k := n / M
	if all {
		k = 0
	} else if k == 0 {
		return nil, M, 0, fmt.Errorf("pool %s: budget of %d blocks is less than one block for each of the %d matrices", PoolMatrix, n, M)
	}
	var out []Entry
	for _, name := range sortedKeys(by) {
		ss := by[name]
		if k > len(ss) {
			return nil, M, 0, fmt.Errorf("pool %s: budget of %d blocks gives %d per matrix, more than the %d blocks of %s", PoolMatrix, n, k, len(ss), name)
		}
		sort.Slice(ss, func(i, j int) bool { return better(&ss[i], &ss[j]) })
		take := k
		if all {
			take = len(ss)
		}
		for i := 0; i < take; i++ {
			out = append(out, entry(ss[i], i, PoolMatrix))
		}
	}
	return out, M, k, nil
}

func entry(s scored, rank int, pool string) Entry {
	b := s.b
	return Entry{Tensor: b.Tensor, Layer: b.Layer, Kind: b.Kind, Row: b.Row, Col: b.Col, Score: s.score, Rank: rank, Pool: pool}
}

// CheckShapes checks that the block size divides the shape of every scored
// kind and that the scores name at least one layer.
func CheckShapes(sm scores.Meta) error {
	if sm.Layers <= 0 {
		return fmt.Errorf("the scores give %d layers", sm.Layers)
	}
	S := sm.BlockSize
	for _, k := range sortedKeys(sm.Shapes) {
		if _, err := KindIndex(k); err != nil {
			return fmt.Errorf("scores shapes: %w", err)
		}
	}
	for _, k := range Kinds {
		s, ok := sm.Shapes[k]
		if !ok {
			continue
		}
		if S <= 0 || s[0] < S || s[1] < S || s[0]%S != 0 || s[1]%S != 0 {
			return fmt.Errorf("block size %d does not divide %s_proj [%d, %d]", S, k, s[0], s[1])
		}
	}
	return nil
}
