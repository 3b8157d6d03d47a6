package evaluate

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
	"github.com/smt-go/smt/pkg/backend/cpu"
	"github.com/smt-go/smt/pkg/eval"
	"github.com/smt-go/smt/pkg/llama"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/tokenizer"
)

func storiesDir(t *testing.T) string {
	return filepath.Join(testutil.RepoRoot(t), "models", "stories260K")
}

func loadEngine(t *testing.T, dec Decoding) *Engine {
	t.Helper()
	dir := storiesDir(t)
	m, err := llama.Load(dir, cpu.New32(0))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(m, tok, dec)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testPrompts are SMT evaluation prompts of the test sets in testdata (of
// different lengths), tokenized as Run tokenizes them.
func testPrompts(t *testing.T, e *Engine, perTask int) [][]int32 {
	t.Helper()
	tmpl, _ := prompt.Get("smt")
	addBOS, _ := ResolveBOS(e.Tok, tmpl)
	var out [][]int32
	for _, task := range []string{"boolq", "ARC-Easy", "gsm8k"} {
		exs, err := eval.LoadTask("testdata/dataset", task)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range exs[:perTask] {
			out = append(out, e.Encode(tmpl.Eval(ex.Record), addBOS))
		}
	}
	return out
}

// Batches of prompts of different lengths give what each prompt gives
// alone, for every decoding the evaluation offers.
func TestCompleteBatchedMatchesSingle(t *testing.T) {
	for _, dec := range []Decoding{
		{MaxNewTokens: 24, Beams: 1, RepetitionPenalty: 1},
		{MaxNewTokens: 24, Beams: 1, RepetitionPenalty: 1.1},
		{MaxNewTokens: 12, Beams: 4, RepetitionPenalty: 1.1},
	} {
		e := loadEngine(t, dec)
		prompts := testPrompts(t, e, 3)
		lengths := map[int]bool{}
		for _, p := range prompts {
			lengths[len(p)] = true
		}
		if len(lengths) < 5 {
			t.Fatalf("prompts of only %d lengths", len(lengths))
		}
		batched, err := e.Complete(prompts, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		single, err := loadEngine(t, dec).Complete(prompts, 1, func(idx []int, _ []Completion) error {
			calls++
			if len(idx) != 1 {
				t.Errorf("batch of %d with batch size 1", len(idx))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls != len(prompts) {
			t.Errorf("%d callbacks for %d prompts", calls, len(prompts))
		}
		for i := range prompts {
			if !slices.Equal(batched[i].Tokens, single[i].Tokens) || batched[i].Text != single[i].Text {
				t.Errorf("%s: prompt %d (%d tokens): batched %q, alone %q", dec.Strategy(), i, len(prompts[i]), batched[i].Text, single[i].Text)
			}
		}
	}
}

// The new text is the decoded whole minus the decoded prompt: a word that
// starts the continuation keeps its space.
func TestText(t *testing.T) {
	e := loadEngine(t, Decoding{MaxNewTokens: 1, Beams: 1, RepetitionPenalty: 1})
	ids := e.Encode("Once upon a time, there was a little girl.", true)
	full := e.Tok.Decode(ids)
	for k := 1; k < len(ids); k++ {
		pre := e.Tok.Decode(ids[:k])
		if got, want := e.Text(ids[:k], ids[k:]), full[len(pre):]; got != want {
			t.Errorf("split at %d: %q, want %q", k, got, want)
		}
	}
	if got := e.Text(ids[:3], ids[3:]); !strings.HasPrefix(got, " ") {
		t.Errorf("continuation %q lost its leading space", got)
	}
	if got := e.Text(ids[:1], ids[1:]); got != full {
		t.Errorf("after BOS: %q, want %q", got, full)
	}
}

// Plan sorts longest first, keeps one new-token budget per batch, and
// sets apart prompts that fill the context.
func TestPlan(t *testing.T) {
	e := &Engine{Model: &llama.Model{Cfg: &llama.Config{MaxPositionEmbeddings: 10}}, Dec: Decoding{MaxNewTokens: 4, Beams: 1}}
	lengths := []int{3, 9, 7, 10, 6, 2, 8, 6}
	batches, skipped := e.Plan(lengths, 2)
	want := [][]int{{1}, {6}, {2}, {4, 7}, {0, 5}}
	if !slices.EqualFunc(batches, want, slices.Equal[[]int]) || !slices.Equal(skipped, []int{3}) {
		t.Errorf("batches %v skipped %v, want %v and [3]", batches, skipped, want)
	}
	if p := e.Positions(lengths, batches); p != 10 {
		t.Errorf("positions %d, want 10", p)
	}
}

func TestParseTasks(t *testing.T) {
	got, err := ParseTasks("gsm8k, arc-easy,boolq,boolq")
	if err != nil || !slices.Equal(got, []string{"boolq", "ARC-Easy", "gsm8k"}) {
		t.Errorf("got %v, %v", got, err)
	}
	got, err = ParseTasks("commonsense,AQuA")
	if err != nil || len(got) != 9 || got[8] != "AQuA" {
		t.Errorf("got %v, %v", got, err)
	}
	if got, _ := ParseTasks("all"); len(got) != len(eval.Tasks()) {
		t.Errorf("all: %v", got)
	}
	for _, bad := range []string{"", "boolq,nosuch", ","} {
		if _, err := ParseTasks(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDecodingValidate(t *testing.T) {
	ok := Decoding{MaxNewTokens: 1, Beams: 4, RepetitionPenalty: 1.1}
	if err := ok.Validate(); err != nil || ok.Strategy() != "beam" {
		t.Errorf("%v %s", err, ok.Strategy())
	}
	for _, bad := range []Decoding{
		{MaxNewTokens: 0, Beams: 1, RepetitionPenalty: 1},
		{MaxNewTokens: 1, Beams: 0, RepetitionPenalty: 1},
		{MaxNewTokens: 1, Beams: 1, RepetitionPenalty: 0},
		{MaxNewTokens: 1, Beams: 2, RepetitionPenalty: 1, Temperature: 1},
		{MaxNewTokens: 1, Beams: 1, RepetitionPenalty: 1, TopP: 1.5},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
