package eval

import (
	"math"
	"strings"
	"testing"
)

// The expected values of these tables were checked against CPython 3 running
// the reference's expressions (re.findall with the same patterns, [0] or
// [-1], float()).

func TestExtractChoice(t *testing.T) {
	cases := []struct {
		task, gen, want string
	}{
		{"boolq", "The answer is TRUE.", "true"},
		{"boolq", "untrue", "true"}, // substring match, no word boundary
		{"boolq", "False, not true", "false"},
		{"boolq", "yes", ""},
		{"boolq", "", ""},
		{"ARC-Easy", "Answer12", "answer1"},
		{"ARC-Easy", "ANSWER3 is it", "answer3"},
		{"ARC-Challenge", "answer 3", ""},
		{"openbookqa", "the correct answer is answer2</s>", "answer2"},
		{"social_i_qa", "answer5 then answer1", "answer5"},
		{"winogrande", "option1 or option2", "option1"},
		{"winogrande", "OPTİON1", ""}, // Python lowers İ to "i\u0307"
		{"winogrande", "Option2", "option2"},
		{"piqa", "solution 1", ""},
		{"piqa", "SOLUTION2SOLUTION1", "solution2"},
		{"hellaswag", "ending5 ending4", "ending4"},
		{"hellaswag", "Ending3", "ending3"},
	}
	for _, c := range cases {
		task, err := Lookup(c.task)
		if err != nil {
			t.Fatal(err)
		}
		if got := task.Extract(c.gen); got != c.want {
			t.Errorf("%s Extract(%q) = %q, want %q", c.task, c.gen, got, c.want)
		}
	}
}

func TestChoiceCorrect(t *testing.T) {
	boolq, _ := Lookup("boolq")
	if p, ok := boolq.Score("It is TRUE", "true"); !ok || p != "true" {
		t.Errorf("Score upper-case = %q %v", p, ok)
	}
	if _, ok := boolq.Score("It is TRUE", "True"); !ok {
		t.Error("gold is compared lower-cased")
	}
	if _, ok := boolq.Score("false, then true", "true"); ok {
		t.Error("first match must win")
	}
	if _, ok := boolq.Score("no idea", "true"); ok {
		t.Error("no match must be wrong")
	}
	if boolq.Correct("", "") {
		t.Error("an empty prediction is never correct")
	}
}

func TestExtractNumber(t *testing.T) {
	cases := []struct {
		gen   string
		match string
		value float64
	}{
		{"The answer is 1,234.5.", "1234.5", 1234.5},
		{"42.", "42.", 42},
		{"It is -7 degrees", "-7", -7},
		{"5-3 = 2 so the answer is 5-3", "-3", -3}, // hyphen read as minus
		{"1.2.3", "3", 3},
		{"3,4", "34", 34}, // commas deleted first
		{"x = 0.5 and then .75", "75", 75},
		{"Answer: ３４", "34", 34},   // fullwidth digits, Python's \d
		{"٣.٥ apples", "3.5", 3.5}, // Arabic-Indic digits
		{"1e5", "5", 5},
		{"The answer is 18.\n\n### Instruction:\nwhat", "18.", 18},
		{"--5", "-5", -5},
		{"$1,000,000.00", "1000000.00", 1e6},
		{"2/3", "3", 3},
		{"12.50%", "12.50", 12.5},
		{"𝟗𝟗 bottles", "99", 99}, // mathematical bold digits: several digit sets in one run
	}
	for _, c := range cases {
		m, v, ok := ExtractNumber(c.gen)
		if !ok || m != c.match || v != c.value {
			t.Errorf("ExtractNumber(%q) = %q %v %v, want %q %v", c.gen, m, v, ok, c.match, c.value)
		}
	}
	if m, v, ok := ExtractNumber("no number here"); ok || m != "" || !math.IsInf(v, 1) {
		t.Errorf("no number: %q %v %v", m, v, ok)
	}
	huge := "1" + strings.Repeat("0", 400)
	if m, v, ok := ExtractNumber(huge); !ok || m != huge || !math.IsInf(v, 1) {
		t.Errorf("overflow: %v %v", v, ok)
	}
}

func TestNumberCorrect(t *testing.T) {
	gsm, _ := Lookup("gsm8k")
	cases := []struct {
		gen, gold string
		want      bool
	}{
		{"The answer is 1,234.5.", "1234.5", true},
		{"The answer is 576.", "576.0", true},
		{"so 0.6667", "0.6666666666666666", true}, // within 0.001
		{"so 0.668", "0.6666666666666666", false}, // 0.00133 off
		{"exactly 5.001", "5", false},             // 5.001-5 = 0.001000000000000334 in binary, as in Python
		{"exactly 2.001", "2", true},              // 2.001-2 rounds to <= 0.001
		{"0.001", "0", true},
		{"it is -15", "-15.0", true},
		{"it is 15", "-15.0", false},
		{"the answer is 12 (not 13)", "12", false}, // last number wins
		{"none", "0", false},
		{"1" + strings.Repeat("0", 400), "1e400", false}, // inf vs inf: inf-inf is NaN
		{"5", "five", false},
	}
	for _, c := range cases {
		if _, got := gsm.Score(c.gen, c.gold); got != c.want {
			t.Errorf("Score(%q, %q) = %v, want %v", c.gen, c.gold, got, c.want)
		}
	}
}

func TestExtractLetter(t *testing.T) {
	cases := []struct{ gen, want string }{
		{"A train leaves at 3pm; the answer is (C)", "A"},
		{"the answer is (c)", ""},
		{"Every option", "E"},
		{"the answer is (D).", "D"},
		{"none", ""},
		{"xyz\nB", "B"},
		{"\nRationale: so The answer is (B).", "B"},
	}
	for _, c := range cases {
		if got := ExtractLetter(c.gen); got != c.want {
			t.Errorf("ExtractLetter(%q) = %q, want %q", c.gen, got, c.want)
		}
	}
	aqua, _ := Lookup("AQuA")
	if _, ok := aqua.Score("A train ... the answer is (C)", "C"); ok {
		t.Error("stray capital must win over the stated answer")
	}
	if _, ok := aqua.Score("the answer is (c)", "c"); ok {
		t.Error("lower-case letters never match")
	}
}

func TestPercent(t *testing.T) {
	// Same strings as Python's "{:.1f}".format(x * 100).
	cases := map[float64]string{0.8675: "86.8", 2.0 / 3: "66.7", 771.0 / 1319: "58.5", 0.0025: "0.2", 0.35: "35.0", 1: "100.0", 0: "0.0"}
	for acc, want := range cases {
		if got := Percent(acc); got != want {
			t.Errorf("Percent(%v) = %q, want %q", acc, got, want)
		}
	}
}

func TestLLMAdaptersResponse(t *testing.T) {
	gen := " The answer is 18.\n\n### Instruction:\nWhat next?\n\n### Response:\nThe answer is 9.\n"
	if got := LLMAdaptersResponse(gen); got != "The answer is 18.\n\n### Instruction:\nWhat next?" {
		t.Errorf("LLMAdaptersResponse = %q", got)
	}
	gsm, _ := Lookup("gsm8k")
	if p, ok := gsm.Score(LLMAdaptersResponse(gen), "18"); !ok || p != "18." {
		t.Errorf("cut: prediction %q; the reference reads the last number before the second marker", p)
	}
	if p, _ := gsm.Score(gen, "18"); p != "9." {
		t.Errorf("uncut: prediction %q, want the run-on block's 9.", p)
	}
	if got := LLMAdaptersResponse("\n x 4 y "); got != "x 4 y" {
		t.Errorf("no marker: %q", got)
	}
}
