package blocks

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/smt-go/smt/pkg/blocks/blockstest"
	"github.com/smt-go/smt/pkg/scores"
)

// small is a 4-layer model with 16-blocks: q 4×4, k and v 2×4, o 4×4,
// gate and up 8×4, down 4×8 blocks per layer.
var small = blockstest.Model{Layers: 4, Hidden: 64, KV: 32, FFN: 128, Vocab: 100}

var allKinds = []string{"q", "k", "v", "o", "gate", "up", "down"}

func mustBudget(t *testing.T, s string) Budget {
	t.Helper()
	b, err := ParseBudget(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSelect(t *testing.T, sm scores.Meta, sb []scores.Block, opt Options) *Result {
	t.Helper()
	res, err := Select(sm, sb, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type key struct {
	tensor   string
	row, col int
}

// bruteTop returns the n best blocks of the kinds by a column, the slow
// obvious way: sort everything by (score, reference tuple) descending.
func bruteTop(sb []scores.Block, kinds []string, col func(*scores.Block) float32, n int) []key {
	type cand struct {
		k   key
		s   float32
		tup []any
	}
	var cs []cand
	for i := range sb {
		b := &sb[i]
		if slices.Contains(kinds, b.Kind) {
			cs = append(cs, cand{key{b.Tensor, b.Row, b.Col}, col(b), []any{b.Kind + "_proj", b.Layer, b.Row, b.Col}})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].s != cs[j].s {
			return cs[i].s > cs[j].s
		}
		a, b := cs[i].tup, cs[j].tup
		if a[0] != b[0] {
			return a[0].(string) > b[0].(string)
		}
		for x := 1; x < 4; x++ {
			if a[x] != b[x] {
				return a[x].(int) > b[x].(int)
			}
		}
		return false
	})
	var out []key
	for _, c := range cs[:n] {
		out = append(out, c.k)
	}
	return out
}

func keysOf(es []Entry) []key {
	var out []key
	for _, e := range es {
		out = append(out, key{e.Tensor, e.Row, e.Col})
	}
	return out
}

func sameSet(a, b []key) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	cmp := func(p, q key) int {
		if c := strings.Compare(p.tensor, q.tensor); c != 0 {
			return c
		}
		if p.row != q.row {
			return p.row - q.row
		}
		return p.col - q.col
	}
	slices.SortFunc(x, cmp)
	slices.SortFunc(y, cmp)
	return slices.Equal(x, y)
}

// checkFileOrder checks the order of Select's output: tensors in layout
// order, ranks ascending and scores descending within a tensor.
func checkFileOrder(t *testing.T, es []Entry) {
	t.Helper()
	for i := 1; i < len(es); i++ {
		a, b := es[i-1], es[i]
		ka, _ := KindIndex(a.Kind)
		kb, _ := KindIndex(b.Kind)
		switch {
		case a.Layer > b.Layer, a.Layer == b.Layer && ka > kb:
			t.Fatalf("rows %d, %d: %s before %s", i-1, i, a.Tensor, b.Tensor)
		case a.Tensor == b.Tensor && (a.Rank >= b.Rank || a.Score < b.Score):
			t.Fatalf("rows %d, %d of %s: rank %d score %g before rank %d score %g", i-1, i, a.Tensor, a.Rank, a.Score, b.Rank, b.Score)
		}
	}
}

func TestAttnTopN(t *testing.T) {
	sm, sb := blockstest.Scores(small, 16, allKinds, map[string]float32{"v": 2}, 1)
	for _, score := range []string{"mean_abs", "abs_mean", "l1", "l2", "mean_abs_step"} {
		res := mustSelect(t, sm, sb, Options{Policy: PolicyAttn, Score: score, Budget: mustBudget(t, "20")})
		idx := slices.Index(scores.ScoreColumns, score)
		want := bruteTop(sb, []string{"q", "k", "v"}, func(b *scores.Block) float32 { return b.Scores[idx] }, 20)
		if !sameSet(keysOf(res.Entries), want) {
			t.Fatalf("%s: selected %v, want %v", score, keysOf(res.Entries), want)
		}
		checkFileOrder(t, res.Entries)
		ranks := map[int]bool{}
		for _, e := range res.Entries {
			if e.Pool != PoolAttn || !IsQKV(e.Kind) || ranks[e.Rank] || e.Rank >= 20 {
				t.Fatalf("%s: entry %+v", score, e)
			}
			ranks[e.Rank] = true
		}
		if res.Meta.Counts[PoolAttn] != 20 || len(res.Pools) != 1 || res.Pools[0].Available != 4*(16+8+8) {
			t.Fatalf("%s: counts %v pools %+v", score, res.Meta.Counts, res.Pools)
		}
	}
	// The columns hold different random values, so the choice matters.
	a := mustSelect(t, sm, sb, Options{Policy: PolicyAttn, Score: "mean_abs", Budget: mustBudget(t, "20")})
	b := mustSelect(t, sm, sb, Options{Policy: PolicyAttn, Score: "abs_mean", Budget: mustBudget(t, "20")})
	if sameSet(keysOf(a.Entries), keysOf(b.Entries)) {
		t.Fatal("mean_abs and abs_mean selected the same blocks")
	}
}

func TestReferenceScore(t *testing.T) {
	sm, sb := blockstest.Scores(small, 16, allKinds, nil, 2)
	col := func(name string) func(*scores.Block) float32 {
		i := slices.Index(scores.ScoreColumns, name)
		return func(b *scores.Block) float32 { return b.Scores[i] }
	}
	res := mustSelect(t, sm, sb, Options{Policy: PolicyAttnMLP, Score: ScoreReference, Budget: mustBudget(t, "10"), MLPBudget: mustBudget(t, "30")})
	var attn, mlp []Entry
	for _, e := range res.Entries {
		if e.Pool == PoolAttn {
			attn = append(attn, e)
		} else {
			mlp = append(mlp, e)
		}
	}
	if !sameSet(keysOf(attn), bruteTop(sb, []string{"q", "k", "v"}, col("abs_mean"), 10)) {
		t.Error("reference: the attention pool is not ranked by abs_mean")
	}
	if !sameSet(keysOf(mlp), bruteTop(sb, []string{"gate", "up", "down"}, col("mean_abs"), 30)) {
		t.Error("reference: the MLP pool is not ranked by mean_abs")
	}
}

func TestTieBreaking(t *testing.T) {
	// Every block scores the same: the reference keeps the largest
	// ((module, layer), row, col) tuples, so v_proj of the last layer
	// from its last block backwards, then v_proj of the layer before.
	sm, sb := blockstest.Scores(small, 16, []string{"q", "k", "v"}, nil, 3)
	for i := range sb {
		sb[i].Scores = [5]float32{1, 1, 1, 1, 1}
	}
	res := mustSelect(t, sm, sb, Options{Policy: PolicyAttn, Score: "mean_abs", Budget: mustBudget(t, "10")})
	var got []string
	for _, e := range res.Entries {
		got = append(got, e.Tensor[len("model.layers."):len("model.layers.")+1]+e.Kind+string(rune('0'+e.Row))+string(rune('0'+e.Col)))
	}
	// File order: layer 2 v (ranks 8, 9: blocks (1,3), (1,2)), then layer 3 v by rank.
	want := []string{"2v13", "2v12", "3v13", "3v12", "3v11", "3v10", "3v03", "3v02", "3v01", "3v00"}
	if !slices.Equal(got, want) {
		t.Fatalf("tie order %v, want %v", got, want)
	}
	// The result does not depend on the order of the scores file.
	sm, sb = blockstest.Scores(small, 16, allKinds, nil, 4)
	for i := range sb {
		sb[i].Scores[0] = float32(int(sb[i].Scores[0]*4)) / 4 // many ties
	}
	ref := mustSelect(t, sm, sb, Options{Policy: PolicyMixed, Score: "mean_abs", Budget: mustBudget(t, "77")})
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 5; trial++ {
		r.Shuffle(len(sb), func(i, j int) { sb[i], sb[j] = sb[j], sb[i] })
		got := mustSelect(t, sm, sb, Options{Policy: PolicyMixed, Score: "mean_abs", Budget: mustBudget(t, "77")})
		if !slices.Equal(got.Entries, ref.Entries) {
			t.Fatalf("shuffle %d changed the selection", trial)
		}
	}
}

func TestAttnMLPAndMixed(t *testing.T) {
	sm, sb := blockstest.Scores(small, 16, allKinds, nil, 7)
	res := mustSelect(t, sm, sb, Options{Policy: PolicyAttnMLP, Score: "mean_abs", Budget: mustBudget(t, "12"), MLPBudget: mustBudget(t, "25")})
	n := map[string]int{}
	for _, e := range res.Entries {
		n[e.Pool]++
		if e.Pool == PoolAttn && !IsQKV(e.Kind) || e.Pool == PoolMLP && !IsMLP(e.Kind) {
			t.Fatalf("%+v in the wrong pool", e)
		}
	}
	if n[PoolAttn] != 12 || n[PoolMLP] != 25 || res.Meta.Counts[PoolMLP] != 25 || res.Pools[1].Available != 4*(32+32+32) {
		t.Fatalf("pools %v, meta %v, %+v", n, res.Meta.Counts, res.Pools)
	}
	checkFileOrder(t, res.Entries)

	// mixed: one pool over every kind (o included), budget summed.
	res = mustSelect(t, sm, sb, Options{Policy: PolicyMixed, Score: "l2", Budget: mustBudget(t, "12"), MLPBudget: mustBudget(t, "25")})
	want := bruteTop(sb, allKinds, func(b *scores.Block) float32 { return b.Scores[3] }, 37)
	if !sameSet(keysOf(res.Entries), want) || res.Meta.Counts[PoolMixed] != 37 || res.Pools[0].Budget != "12 + 25" {
		t.Fatalf("mixed: %d entries, counts %v, pools %+v", len(res.Entries), res.Meta.Counts, res.Pools)
	}
	// --kinds restricts a pool.
	res = mustSelect(t, sm, sb, Options{Policy: PolicyAttn, Score: "mean_abs", Budget: mustBudget(t, "5"), Kinds: []string{"v"}})
	for _, e := range res.Entries {
		if e.Kind != "v" {
			t.Fatalf("--kinds v selected %+v", e)
		}
	}
	if !slices.Equal(res.Meta.Kinds, []string{"v"}) {
		t.Fatalf("meta kinds %v", res.Meta.Kinds)
	}
}

func TestPerMatrix(t *testing.T) {
	sm, sb := blockstest.Scores(small, 16, []string{"q", "k", "v"}, nil, 8)
	// 12 matrices; 40 blocks → 3 per matrix, 4 left unused.
	res := mustSelect(t, sm, sb, Options{Policy: PolicyPerMatrix, Score: "mean_abs", Budget: mustBudget(t, "40")})
	tabs := Tables(res.Entries)
	if len(tabs) != 12 || len(res.Entries) != 36 || res.Meta.PerMatrix != 3 || res.Meta.Counts[PoolMatrix] != 36 {
		t.Fatalf("%d tensors, %d entries, per matrix %d, counts %v", len(tabs), len(res.Entries), res.Meta.PerMatrix, res.Meta.Counts)
	}
	for name, tb := range tabs {
		var mine []scores.Block
		for _, b := range sb {
			if b.Tensor == name {
				mine = append(mine, b)
			}
		}
		want := bruteTop(mine, []string{tb.Kind}, func(b *scores.Block) float32 { return b.Scores[0] }, 3)
		var got []key
		for i := range tb.Rows {
			got = append(got, key{name, int(tb.Rows[i]), int(tb.Cols[i])})
		}
		if !slices.Equal(got, want) { // same blocks, in rank order
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
	}
	checkFileOrder(t, res.Entries)
	res = mustSelect(t, sm, sb, Options{Policy: PolicyPerMatrix, Score: "mean_abs", Budget: mustBudget(t, "all")})
	if len(res.Entries) != len(sb) {
		t.Fatalf("all: %d of %d blocks", len(res.Entries), len(sb))
	}
	for spec, msg := range map[string]string{"11": "less than one block for each of the 12", "108": "more than the 8 blocks"} {
		_, err := Select(sm, sb, Options{Policy: PolicyPerMatrix, Score: "mean_abs", Budget: mustBudget(t, spec)})
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("per-matrix %s: error %v, want %q", spec, err, msg)
		}
	}
}

func TestSelectRefusals(t *testing.T) {
	sm, sb := blockstest.Scores(small, 16, []string{"q", "k", "v"}, nil, 9)
	b5 := mustBudget(t, "5")
	cases := []struct {
		name string
		opt  Options
		edit func(*scores.Meta, []scores.Block) []scores.Block
		want string
	}{
		{"empty mlp pool", Options{Policy: PolicyAttnMLP, Score: "mean_abs", Budget: b5, MLPBudget: b5}, nil, "pool mlp (gate, up, down) has no scored blocks: the scores hold q, k, v"},
		{"empty attn pool", Options{Policy: PolicyAttn, Score: "mean_abs", Budget: b5}, func(m *scores.Meta, sb []scores.Block) []scores.Block {
			_, mb := blockstest.Scores(small, 16, []string{"gate"}, nil, 1)
			m.Shapes = map[string][2]int{"gate": small.Shape("gate")}
			return mb
		}, "pool attn (q, k, v) has no scored blocks"},
		{"filtered pool", Options{Policy: PolicyAttnMLP, Score: "mean_abs", Budget: b5, MLPBudget: b5, Kinds: []string{"q", "v"}}, func(m *scores.Meta, sb []scores.Block) []scores.Block {
			_, mb := blockstest.Scores(small, 16, []string{"gate"}, nil, 1)
			m.Shapes["gate"] = small.Shape("gate")
			return append(sb, mb...)
		}, "the scores hold q, k, v, gate (--kinds leaves q, v)"},
		{"unscored kind", Options{Policy: PolicyAttn, Score: "mean_abs", Budget: b5, Kinds: []string{"o"}}, nil, "kind o was not scored"},
		{"unknown kind", Options{Policy: PolicyAttn, Score: "mean_abs", Budget: b5, Kinds: []string{"x"}}, nil, `unknown matrix kind "x"`},
		{"norm kind", Options{Policy: PolicyAttn, Score: "mean_abs", Budget: b5, Kinds: []string{"attn_norm"}}, nil, "not a linear weight"},
		{"unknown score", Options{Policy: PolicyAttn, Score: "mean", Budget: b5}, nil, `unknown score "mean"`},
		{"unknown policy", Options{Policy: "top", Score: "mean_abs", Budget: b5}, nil, `unknown policy "top"`},
		{"no budget", Options{Policy: PolicyAttn, Score: "mean_abs"}, nil, "no budget"},
		{"mlp budget on attn", Options{Policy: PolicyAttn, Score: "mean_abs", Budget: b5, MLPBudget: b5}, nil, "takes no MLP budget"},
		{"attn+mlp without", Options{Policy: PolicyAttnMLP, Score: "mean_abs", Budget: b5}, nil, "needs an MLP budget"},
		{"over the pool", Options{Policy: PolicyAttn, Score: "mean_abs", Budget: mustBudget(t, "129")}, nil, "more than the 128 in the pool"},
		{"NaN", Options{Policy: PolicyAttn, Score: "l1", Budget: b5}, func(_ *scores.Meta, sb []scores.Block) []scores.Block {
			sb[7].Scores[2] = float32(math.NaN())
			return sb
		}, "has a NaN score"},
		{"zero column", Options{Policy: PolicyAttn, Score: "mean_abs_step", Budget: b5}, func(_ *scores.Meta, sb []scores.Block) []scores.Block {
			for i := range sb {
				sb[i].Scores[4] = 0
			}
			return sb
		}, "zero for all its 128 blocks"},
		{"block size", Options{Policy: PolicyAttn, Score: "mean_abs", Budget: b5}, func(m *scores.Meta, sb []scores.Block) []scores.Block {
			m.BlockSize = 24
			return sb
		}, "block size 24 does not divide q_proj [64, 64]"},
	}
	for _, c := range cases {
		m, b := sm, slices.Clone(sb)
		m.Shapes = map[string][2]int{"q": sm.Shapes["q"], "k": sm.Shapes["k"], "v": sm.Shapes["v"]}
		if c.edit != nil {
			b = c.edit(&m, b)
		}
		_, err := Select(m, b, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
