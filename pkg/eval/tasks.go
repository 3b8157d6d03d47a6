package eval

import (
	"fmt"
	"regexp"
	"strings"
)

// Kind says how a task's answer is extracted from a generation and compared
// with the gold answer.
type Kind int

const (
	// Choice tasks (the commonsense set): lower-case the generation, take
	// the first match of the task's alternation, compare with the lower-cased
	// gold answer.
	Choice Kind = iota + 1
	// Number tasks (numeric math): drop commas, take the last number,
	// correct within 0.001 of the gold value.
	Number
	// Letter tasks (AQuA, MathQA): the first capital A–E anywhere in the
	// generation, case-sensitive, compared with the gold letter.
	Letter
)

// String returns "choice", "number" or "letter".
func (k Kind) String() string {
	switch k {
	case Choice:
		return "choice"
	case Number:
		return "number"
	case Letter:
		return "letter"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Task groups.
const (
	GroupCommonsense = "commonsense"
	GroupMath        = "math"
)

// Task describes one benchmark: where its test set lives and how it is
// scored.
type Task struct {
	// Name is the directory name under LLM-Adapters' dataset/, e.g. "ARC-Easy".
	Name string
	// Display is the column header the papers use, e.g. "ARC-e".
	Display string
	// Group is GroupCommonsense or GroupMath.
	Group string
	// Kind is how answers are extracted and compared.
	Kind Kind
	// Choices are the alternatives of a Choice task's regular expression,
	// in the reference's order.
	Choices []string
	// Size is the number of records in the reference test set.
	Size int

	re *regexp.Regexp
}

// Pattern returns the regular expression the task extracts answers with.
func (t Task) Pattern() string {
	if t.re == nil {
		return ""
	}
	return t.re.String()
}

var (
	letterRE = regexp.MustCompile(`A|B|C|D|E`)
	// numberRE is LLM-Adapters' `-?\d+\.?\d*`, with \d widened to \p{Nd}
	// because Python 3's \d matches every Unicode decimal digit (and float()
	// reads them); Go's \d is ASCII only.
	numberRE = regexp.MustCompile(`-?\p{Nd}+\.?\p{Nd}*`)
)

func choice(name, display string, size int, alts ...string) Task {
	return Task{Name: name, Display: display, Group: GroupCommonsense, Kind: Choice, Choices: alts, Size: size,
		re: regexp.MustCompile(strings.Join(alts, "|"))}
}

func number(name, display string, size int) Task {
	return Task{Name: name, Display: display, Group: GroupMath, Kind: Number, Size: size, re: numberRE}
}

func letter(name, display string, size int) Task {
	return Task{Name: name, Display: display, Group: GroupMath, Kind: Letter, Size: size, re: letterRE}
}

// The registry, in the column order of the papers' tables: the SMT/DoRA
// commonsense table, then the SMT README's math table, then MAWPS and MathQA.
// The alternations are those of run_commonsense_parallel.py extract_answer.
var tasks = []Task{
	choice("boolq", "BoolQ", 3270, "true", "false"),
	choice("piqa", "PIQA", 1838, "solution1", "solution2"),
	choice("social_i_qa", "SIQA", 1954, "answer1", "answer2", "answer3", "answer4", "answer5"),
	choice("hellaswag", "HellaSwag", 10042, "ending1", "ending2", "ending3", "ending4"),
	choice("winogrande", "WinoGrande", 1267, "option1", "option2"),
	choice("ARC-Easy", "ARC-e", 2376, "answer1", "answer2", "answer3", "answer4", "answer5"),
	choice("ARC-Challenge", "ARC-c", 1172, "answer1", "answer2", "answer3", "answer4", "answer5"),
	choice("openbookqa", "OBQA", 500, "answer1", "answer2", "answer3", "answer4", "answer5"),
	number("gsm8k", "GSM8K", 1319),
	number("SingleEq", "SingleEq", 508),
	number("SVAMP", "SVAMP", 1000),
	number("MultiArith", "MultiArith", 600),
	number("AddSub", "AddSub", 395),
	letter("AQuA", "AQuA", 254),
	number("mawps", "MAWPS", 238),
	letter("mathqa", "MathQA", 2985),
}

// Tasks returns every known task in table order.
func Tasks() []Task { return append([]Task(nil), tasks...) }

// TaskNames returns the names of the tasks of group ("" for all), in table
// order.
func TaskNames(group string) []string {
	var names []string
	for _, t := range tasks {
		if group == "" || t.Group == group {
			names = append(names, t.Name)
		}
	}
	return names
}

// CommonsenseTasks are the eight commonsense tasks of the SMT paper.
var CommonsenseTasks = TaskNames(GroupCommonsense)

// MathTasks are the math tasks: the SMT README's six (GSM8K, SingleEq,
// SVAMP, MultiArith, AddSub, AQuA), then MAWPS and MathQA.
var MathTasks = TaskNames(GroupMath)

// Lookup returns the task called name. The exact directory name is tried
// first, then a case-insensitive match ("arc-easy", "aqua"). The error for
// an unknown name lists the valid ones.
func Lookup(name string) (Task, error) {
	for _, t := range tasks {
		if t.Name == name {
			return t, nil
		}
	}
	for _, t := range tasks {
		if strings.EqualFold(t.Name, name) {
			return t, nil
		}
	}
	return Task{}, fmt.Errorf("eval: unknown task %q (valid: %s)", name, strings.Join(TaskNames(""), ", "))
}

// order returns the table position of a task name, or len(tasks) for an
// unknown one.
func order(name string) int {
	for i, t := range tasks {
		if t.Name == name {
			return i
		}
	}
	return len(tasks)
}
