package eval

import (
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	want := []string{"boolq", "piqa", "social_i_qa", "hellaswag", "winogrande", "ARC-Easy", "ARC-Challenge", "openbookqa"}
	if strings.Join(CommonsenseTasks, ",") != strings.Join(want, ",") {
		t.Errorf("CommonsenseTasks = %v", CommonsenseTasks)
	}
	wantMath := []string{"gsm8k", "SingleEq", "SVAMP", "MultiArith", "AddSub", "AQuA", "mawps", "mathqa"}
	if strings.Join(MathTasks, ",") != strings.Join(wantMath, ",") {
		t.Errorf("MathTasks = %v", MathTasks)
	}
	patterns := map[string]string{
		"boolq":         "true|false",
		"piqa":          "solution1|solution2",
		"social_i_qa":   "answer1|answer2|answer3|answer4|answer5",
		"ARC-Challenge": "answer1|answer2|answer3|answer4|answer5",
		"ARC-Easy":      "answer1|answer2|answer3|answer4|answer5",
		"openbookqa":    "answer1|answer2|answer3|answer4|answer5",
		"hellaswag":     "ending1|ending2|ending3|ending4",
		"winogrande":    "option1|option2",
		"AQuA":          "A|B|C|D|E",
		"mathqa":        "A|B|C|D|E",
		"gsm8k":         `-?\p{Nd}+\.?\p{Nd}*`,
	}
	for name, p := range patterns {
		task, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if task.Pattern() != p {
			t.Errorf("%s pattern %q, want %q", name, task.Pattern(), p)
		}
	}
	for _, task := range Tasks() {
		if task.Size <= 0 || task.Display == "" || task.Kind.String() == "" {
			t.Errorf("incomplete task %+v", task)
		}
		if (task.Group == GroupCommonsense) != (task.Kind == Choice) {
			t.Errorf("%s: group %s kind %s", task.Name, task.Group, task.Kind)
		}
	}
}

func TestLookup(t *testing.T) {
	for in, want := range map[string]string{"ARC-Easy": "ARC-Easy", "arc-easy": "ARC-Easy", "aqua": "AQuA", "SVAMP": "SVAMP", "Hellaswag": "hellaswag"} {
		task, err := Lookup(in)
		if err != nil || task.Name != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", in, task.Name, err, want)
		}
	}
	_, err := Lookup("mmlu")
	if err == nil || !strings.Contains(err.Error(), `"mmlu"`) || !strings.Contains(err.Error(), "ARC-Challenge") {
		t.Errorf("Lookup(mmlu) error = %v", err)
	}
}
