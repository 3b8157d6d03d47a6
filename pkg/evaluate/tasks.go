package evaluate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/smt-go/smt/pkg/eval"
)

// ParseTasks reads a comma-separated task list: task names (any case, see
// eval.Lookup) and the groups "commonsense", "math" and "all". It returns
// the distinct tasks in the registry's table order.
func ParseTasks(spec string) ([]string, error) {
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch strings.ToLower(part) {
		case "":
			continue
		case "all":
			for _, n := range eval.TaskNames("") {
				seen[n] = true
			}
		case eval.GroupCommonsense:
			for _, n := range eval.CommonsenseTasks {
				seen[n] = true
			}
		case eval.GroupMath:
			for _, n := range eval.MathTasks {
				seen[n] = true
			}
		default:
			t, err := eval.Lookup(part)
			if err != nil {
				return nil, fmt.Errorf("%w; or a group: commonsense, math, all", err)
			}
			seen[t.Name] = true
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("no tasks in %q", spec)
	}
	order := map[string]int{}
	for i, n := range eval.TaskNames("") {
		order[n] = i
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	return names, nil
}
