package eval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
)

func TestParseTestJSON(t *testing.T) {
	recs, err := ParseTestJSON([]byte(`[
 {"instruction": "q1", "input": "", "output": "the correct answer is true", "answer": "true"},
 {"instruction": "q2", "answer": 18, "extra": [1,2]},
 {"instruction": "q3", "input": null, "output": null, "answer": "-1.5"}
]`), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Output != "the correct answer is true" || recs[1].Answer != "18" || recs[2].Input != "" || recs[2].Answer != "-1.5" {
		t.Errorf("records = %+v", recs)
	}
	if recs, err := ParseTestJSON([]byte(" [ ] \n"), "e.json"); err != nil || len(recs) != 0 {
		t.Errorf("empty array: %v %v", recs, err)
	}
}

func TestParseTestJSONErrors(t *testing.T) {
	cases := []struct {
		name, data string
		line       int
		record     int
		msg        string
	}{
		{"not array", `{"instruction": "x"}`, 1, -1, "JSON array"},
		{"record not object", "[\n{\"instruction\":\"a\",\"answer\":\"b\"},\n\"x\"\n]", 3, 1, "want a JSON object, found a string"},
		{"null record", "[null]", 1, 0, "found null"},
		{"missing answer", "[\n {\"instruction\": \"a\"}\n]", 2, 0, `"answer"`},
		{"empty instruction", `[{"instruction": "", "answer": "b"}]`, 1, 0, `"instruction"`},
		{"wrong type", "[\n{\"instruction\":\"a\",\"answer\":\"b\"},\n{\"instruction\":\"a\",\"answer\":\"b\"},\n{\"instruction\":\"a\",\"input\":5,\"answer\":\"b\"}]", 4, 2, `field "input": want a string, found a number`},
		{"bool answer", `[{"instruction": "a", "answer": true}]`, 1, 0, `field "answer"`},
		{"syntax", "[\n{\"instruction\": \"a\",, \"answer\": \"b\"}\n]", 2, 0, "invalid character"},
		{"truncated", "[\n{\"instruction\": \"a\", \"answer\": \"b\"},\n{\"instr", 3, 1, "unexpected end"},
		{"unclosed", "[{\"instruction\": \"a\", \"answer\": \"b\"}", 1, -1, "unexpected end"},
		{"trailing", "[]\n[]", 2, -1, "after the closing"},
		{"empty file", "", 1, -1, "unexpected end"},
	}
	for _, c := range cases {
		_, err := ParseTestJSON([]byte(c.data), "dataset/x/test.json")
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v is not a *FormatError", c.name, err)
			continue
		}
		if fe.File != "dataset/x/test.json" || fe.Line != c.line || fe.Record != c.record || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %q (line %d record %d), want line %d record %d containing %q", c.name, err, fe.Line, fe.Record, c.line, c.record, c.msg)
		}
		if !strings.Contains(err.Error(), "dataset/x/test.json") {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
	}
}

func TestReadTestJSONMissing(t *testing.T) {
	_, err := ReadTestJSON(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("error = %v", err)
	}
}

// refCounts are the numbers of records of each real test set, and how many
// are scored correct when the generation is the record's own output, and
// when it is the record's instruction (which names every option, so the
// first-match and stray-capital quirks decide). They were computed
// independently with CPython 3 running the reference's regexes.
var refCounts = map[string][3]int{
	"boolq":         {3270, 3270, 2033},
	"piqa":          {1838, 1838, 910},
	"social_i_qa":   {1954, 1954, 643},
	"ARC-Challenge": {1172, 1172, 266},
	"ARC-Easy":      {2376, 2376, 596},
	"openbookqa":    {500, 500, 138},
	"winogrande":    {1267, 1267, 628},
	"gsm8k":         {1319, 771, 30},
	"SVAMP":         {1000, 803, 20},
	"MultiArith":    {600, 560, 21},
	"AddSub":        {395, 370, 10},
	"SingleEq":      {508, 484, 6},
	"mawps":         {238, 0, 4},
	"AQuA":          {254, 109, 66},
	"mathqa":        {2985, 0, 614},
	// hellaswag, built from the validation text: every output names the gold
	// ending; every instruction first mentions "Ending1", right for label 0.
	"hellaswag": {10042, 10042, 2515},
}

func TestRealTestSetsScore(t *testing.T) {
	dir := testutil.SharedData(t)
	l := Loader{DataDir: filepath.Join(dir, "llm-adapters")}
	for _, task := range Tasks() {
		want, ok := refCounts[task.Name]
		if !ok {
			t.Errorf("no reference counts for %s", task.Name)
			continue
		}
		exs, err := l.Load(task.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(exs) != want[0] || len(exs) != task.Size {
			t.Errorf("%s: %d examples, want %d (registry %d)", task.Name, len(exs), want[0], task.Size)
		}
		var fromOutput, fromInstruction int
		for i, ex := range exs {
			if ex.ID != i || ex.Task != task.Name {
				t.Fatalf("%s: example %d has id %d task %q", task.Name, i, ex.ID, ex.Task)
			}
			if _, ok := task.Score(ex.Output, ex.Answer); ok {
				fromOutput++
			}
			if _, ok := task.Score(ex.Instruction, ex.Answer); ok {
				fromInstruction++
			}
		}
		if fromOutput != want[1] || fromInstruction != want[2] {
			t.Errorf("%s: correct from output %d, from instruction %d; CPython reference %d, %d",
				task.Name, fromOutput, fromInstruction, want[1], want[2])
		}
	}
}

func TestLoaderLayouts(t *testing.T) {
	dir := testutil.SharedData(t)
	for _, d := range []string{filepath.Join(dir, "llm-adapters"), filepath.Join(dir, "llm-adapters", "dataset")} {
		p, err := Loader{DataDir: d}.Path("arc-easy")
		if err != nil || !strings.HasSuffix(p, filepath.Join("ARC-Easy", "test.json")) {
			t.Errorf("Path(arc-easy) in %s = %q, %v", d, p, err)
		}
		p, err = Loader{DataDir: d}.Path("hellaswag")
		if err != nil || p != filepath.Join(dir, "hellaswag-val", HellaSwagFile) {
			t.Errorf("Path(hellaswag) in %s = %q, %v", d, p, err)
		}
	}
	exs, err := LoadTask(filepath.Join(dir, "llm-adapters", "dataset"), "openbookqa")
	if err != nil || len(exs) != 500 {
		t.Errorf("LoadTask(openbookqa) = %d, %v", len(exs), err)
	}
}

func TestLoaderErrors(t *testing.T) {
	tmp := t.TempDir()
	if _, err := LoadTask(tmp, "nosuch"); err == nil || !strings.Contains(err.Error(), "boolq") {
		t.Errorf("unknown task: %v", err)
	}
	_, err := LoadTask(tmp, "boolq")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(tmp, "boolq", "test.json")) || !strings.Contains(err.Error(), filepath.Join(tmp, "dataset", "boolq", "test.json")) {
		t.Errorf("missing test set: %v", err)
	}
	_, err = Loader{DataDir: tmp, HellaSwagPath: filepath.Join(tmp, "hs.txt")}.Load("hellaswag")
	if err == nil || !strings.Contains(err.Error(), "hs.txt") {
		t.Errorf("missing hellaswag: %v", err)
	}
	// Answers that the task can never match are data errors.
	write := func(task, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(tmp, task), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, task, "test.json"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gsm8k", `[{"instruction":"q","answer":"12"},{"instruction":"q","answer":"twelve"}]`)
	write("AQuA", `[{"instruction":"q","answer":"a"}]`)
	write("piqa", `[{"instruction":"q","answer":"Solution2"},{"instruction":"q","answer":"solution3"}]`)
	for task, msg := range map[string]string{"gsm8k": `record 1: answer "twelve" is not a number`, "AQuA": `record 0: answer "a" is not one of A`, "piqa": `record 1: answer "solution3" is not one of "solution1", "solution2"`} {
		_, err := LoadTask(tmp, task)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), filepath.Join(task, "test.json")) {
			t.Errorf("%s: error %v, want %q", task, err, msg)
		}
	}
}
