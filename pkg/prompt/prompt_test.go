package prompt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
)

var (
	noInput   = Record{Instruction: "Add 2 and 3.", Output: "The answer is 5.</s>", Answer: "5"}
	withInput = Record{Instruction: "Add the numbers.", Input: "2 and 3", Output: "The answer is 5.", Answer: "5"}
)

type golden struct {
	name                 string
	rec                  Record
	source, target, eval string
}

// The expected bytes below are written out by hand from the reference
// sources named in each template's file; they must not be built from the
// package's constants.
var goldens = map[string][]golden{
	"smt": {
		{"no input", noInput,
			"<s> Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n### Instruction:\nAdd 2 and 3.\n\n### Response:\n",
			"The answer is 5.",
			"<s> Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n### Instruction:\nAdd 2 and 3.\n\n### Response:\n"},
		{"with input", withInput,
			"<s> Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n### Instruction:\n2 and 3\n\n### Response:\n",
			"The answer is 5.",
			"<s> Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n### Instruction:\n2 and 3\n\n### Response:\n"},
	},
	"llm-adapters": {
		{"no input", noInput,
			"Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n" +
				"                ### Instruction:\n" +
				"                Add 2 and 3.\n" +
				"                \n" +
				"                ### Response:\n" +
				"                ",
			"The answer is 5.</s>",
			"Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n" +
				"                ### Instruction:\n" +
				"                Add 2 and 3.\n" +
				"\n" +
				"                ### Response:\n" +
				"                "},
		{"with input", withInput,
			"Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request. \n\n" +
				"                ### Instruction:\n" +
				"                Add the numbers.\n" +
				"                \n" +
				"                ### Input:\n" +
				"                2 and 3\n" +
				"                \n" +
				"                ### Response:\n" +
				"                ",
			"The answer is 5.",
			"Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n" +
				"                ### Instruction:\n" +
				"                Add the numbers.\n" +
				"\n" +
				"                ### Input:\n" +
				"                2 and 3\n" +
				"\n" +
				"                ### Response:\n" +
				"                "},
	},
	"alpaca": {
		{"no input", noInput,
			"Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd 2 and 3.\n\n### Response:",
			"The answer is 5.</s>",
			"Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd 2 and 3.\n\n### Response:"},
		{"with input", withInput,
			"Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:",
			"The answer is 5.",
			"Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:"},
	},
	"raw": {
		{"no input", noInput, "Add 2 and 3.", "The answer is 5.</s>", "Add 2 and 3."},
		{"with input", withInput, "Add the numbers.\n2 and 3", "The answer is 5.", "Add the numbers.\n2 and 3"},
	},
}

func TestGoldenBytes(t *testing.T) {
	for _, name := range Names() {
		cases, ok := goldens[name]
		if !ok {
			t.Errorf("template %q has no golden test", name)
			continue
		}
		tmpl, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if tmpl.Name() != name {
			t.Errorf("Get(%q).Name() = %q", name, tmpl.Name())
		}
		for _, c := range cases {
			src, tgt := tmpl.Train(c.rec)
			if src != c.source {
				t.Errorf("%s %s: Train source\n got %q\nwant %q", name, c.name, src, c.source)
			}
			if tgt != c.target {
				t.Errorf("%s %s: Train target\n got %q\nwant %q", name, c.name, tgt, c.target)
			}
			if ev := tmpl.Eval(c.rec); ev != c.eval {
				t.Errorf("%s %s: Eval\n got %q\nwant %q", name, c.name, ev, c.eval)
			}
		}
	}
	if len(goldens) != len(Names()) {
		t.Errorf("goldens cover %d templates, registry has %d", len(goldens), len(Names()))
	}
}

func TestGetUnknownListsNames(t *testing.T) {
	_, err := Get("vicuna")
	if err == nil {
		t.Fatal("Get(vicuna) succeeded")
	}
	for _, n := range []string{"smt", "llm-adapters", "alpaca", "raw", `"vicuna"`} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not mention %s", err, n)
		}
	}
	if _, err := Get(Default); err != nil {
		t.Errorf("default template: %v", err)
	}
}

func TestAddBOS(t *testing.T) {
	want := map[string]bool{"smt": false, "llm-adapters": true, "alpaca": true, "raw": true}
	for name, w := range want {
		tmpl, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if tmpl.AddBOS() != w {
			t.Errorf("%s: AddBOS = %v, want %v", name, tmpl.AddBOS(), w)
		}
		// A template whose text starts with "<s>" must not also ask for BOS.
		src, _ := tmpl.Train(noInput)
		if strings.HasPrefix(src, "<s>") == tmpl.AddBOS() {
			t.Errorf("%s: source starts with <s>: %v, AddBOS: %v", name, strings.HasPrefix(src, "<s>"), tmpl.AddBOS())
		}
	}
}

// SMT trains and evaluates with different spacing: two spaces after
// "request." in training, one in evaluation.
func TestSMTSpacing(t *testing.T) {
	src, _ := SMT{}.Train(noInput)
	ev := SMT{}.Eval(noInput)
	if !strings.Contains(src, "request.  \n") || strings.Contains(ev, "request.  ") || !strings.Contains(ev, "request. \n") {
		t.Errorf("spacing: train %q eval %q", src, ev)
	}
	if strings.TrimPrefix(src, "<s> ") == src {
		t.Errorf("SMT source lacks the literal <s> prefix: %q", src)
	}
}

func TestSMTTarget(t *testing.T) {
	cases := []struct {
		rec  Record
		want string
	}{
		{Record{Instruction: "q", Output: "a</s>b</s>"}, "ab"},
		// An empty output stays empty, as in helper.py when the key is present.
		{Record{Instruction: "q", Output: "", Answer: "ending2"}, ""},
		{Record{Instruction: "q", Output: "keep </S> case"}, "keep </S> case"},
	}
	for _, c := range cases {
		if _, got := (SMT{}).Train(c.rec); got != c.want {
			t.Errorf("Train(%+v) target = %q, want %q", c.rec, got, c.want)
		}
	}
}

// LLM-Adapters' finetune.py builds one string with the output at the end;
// source+target must be exactly that string.
func TestLLMAdaptersSourcePlusTarget(t *testing.T) {
	for _, r := range []Record{noInput, withInput} {
		src, tgt := LLMAdapters{}.Train(r)
		empty := r
		empty.Output = ""
		src0, tgt0 := LLMAdapters{}.Train(empty)
		if src0 != src || tgt0 != "" {
			t.Errorf("source depends on output: %q vs %q", src0, src)
		}
		if !strings.HasSuffix(src+tgt, "### Response:\n                "+r.Output) {
			t.Errorf("full text %q does not end with the indented output", src+tgt)
		}
	}
}

// Every template formats every record of a real LLM-Adapters training file
// (math_data.json) so that the instruction text and the output survive
// verbatim, and the SMT/LLM-Adapters eval prompts of a real test record
// match their reference shape.
func TestRealData(t *testing.T) {
	path := testutil.Shared(t, filepath.Join("llm-adapters", "ft-training_set", "math_data.json"))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3260 {
		t.Fatalf("math_data.json: %d records, want 3260", len(recs))
	}
	for _, name := range Names() {
		tmpl, _ := Get(name)
		for i, r := range recs {
			src, tgt := tmpl.Train(r)
			if !strings.Contains(src, r.Instruction) {
				t.Fatalf("%s record %d: source lacks the instruction", name, i)
			}
			want := r.Output
			if name == "smt" {
				want = strings.ReplaceAll(r.Output, "</s>", "")
			}
			if tgt != want {
				t.Fatalf("%s record %d: target %q", name, i, tgt)
			}
			if !strings.Contains(tmpl.Eval(r), r.Instruction) {
				t.Fatalf("%s record %d: eval prompt lacks the instruction", name, i)
			}
		}
	}
	r := recs[0]
	want := "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n### Instruction:\n" +
		"Julia played tag with 16 kids on monday. If she played tag with 12 more kids on monday than on tuesday. How many kids did she play with on tuesday?" +
		"\n\n### Response:\n"
	if got := (SMT{}).Eval(r); got != want {
		t.Errorf("SMT eval of math_data.json[0]:\n got %q\nwant %q", got, want)
	}
}
