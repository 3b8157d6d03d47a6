package eval

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/smt-go/smt/pkg/prompt"
)

// Loader finds and reads test sets.
type Loader struct {
	// DataDir holds LLM-Adapters' test sets as <DataDir>/<task>/test.json
	// or <DataDir>/dataset/<task>/test.json.
	DataDir string
	// HellaSwagPath is the HellaSwag validation text (klosax format, ".bz2"
	// or plain) used when no hellaswag/test.json exists. Empty means: look
	// for HellaSwagFile in DataDir, DataDir/hellaswag-val, and the same two
	// places in DataDir's parent and grandparent (so that both
	// shared/data/llm-adapters and shared/data/llm-adapters/dataset find
	// shared/data/hellaswag-val).
	HellaSwagPath string
}

// LoadTask loads the test set of task from dataDir with the default
// HellaSwag search; see Loader.
func LoadTask(dataDir, task string) ([]Example, error) {
	return Loader{DataDir: dataDir}.Load(task)
}

// Path returns the file Load reads for task: a test.json, or for hellaswag
// without one, the HellaSwag text file.
func (l Loader) Path(task string) (string, error) {
	t, err := Lookup(task)
	if err != nil {
		return "", err
	}
	var tried []string
	for _, p := range []string{
		filepath.Join(l.DataDir, t.Name, "test.json"),
		filepath.Join(l.DataDir, "dataset", t.Name, "test.json"),
	} {
		if ok, err := isFile(p); err != nil {
			return "", err
		} else if ok {
			return p, nil
		}
		tried = append(tried, p)
	}
	if t.Name == "hellaswag" {
		cands := []string{l.HellaSwagPath}
		if l.HellaSwagPath == "" {
			cands = nil
			dir := l.DataDir
			for i := 0; i < 3; i++ {
				cands = append(cands, filepath.Join(dir, HellaSwagFile), filepath.Join(dir, "hellaswag-val", HellaSwagFile))
				dir = filepath.Join(dir, "..")
			}
		}
		for _, p := range cands {
			if ok, err := isFile(p); err != nil {
				return "", err
			} else if ok {
				return filepath.Clean(p), nil
			}
			tried = append(tried, filepath.Clean(p))
		}
	}
	return "", fmt.Errorf("eval: no test set for task %s (tried %s)", t.Name, strings.Join(tried, ", "))
}

// Load reads the test set of task and returns its examples in file order,
// with ID the index in the file. For Number tasks every answer must parse as
// a number (the reference calls float() on it).
func (l Loader) Load(task string) ([]Example, error) {
	t, err := Lookup(task)
	if err != nil {
		return nil, err
	}
	path, err := l.Path(t.Name)
	if err != nil {
		return nil, err
	}
	var recs []prompt.Record
	if strings.HasSuffix(path, ".json") {
		recs, err = ReadTestJSON(path)
	} else {
		recs, err = ReadHellaSwag(path)
	}
	if err != nil {
		return nil, err
	}
	exs := make([]Example, len(recs))
	for i, r := range recs {
		if err := checkAnswer(t, r.Answer); err != nil {
			return nil, &FormatError{File: path, Record: i, Err: err}
		}
		exs[i] = Example{Task: t.Name, ID: i, Record: r}
	}
	return exs, nil
}

// checkAnswer verifies that gold is an answer the task can ever match.
func checkAnswer(t Task, gold string) error {
	switch t.Kind {
	case Number:
		if _, err := parseFloat(gold); err != nil {
			return fmt.Errorf("answer %q is not a number", gold)
		}
	case Letter:
		if ExtractLetter(gold) != gold {
			return fmt.Errorf("answer %q is not one of A, B, C, D, E", gold)
		}
	case Choice:
		if ExtractChoice(t.re, gold) != pythonLower(gold) {
			return fmt.Errorf("answer %q is not one of %s", gold, strings.Join(quoteAll(t.Choices), ", "))
		}
	}
	return nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

func isFile(p string) (bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return false, nil
		}
		return false, fmt.Errorf("eval: %w", err)
	}
	return st.Mode().IsRegular(), nil
}
