package eval

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smt-go/smt/pkg/prompt"
)

// HellaSwagFile is the file name of the HellaSwag validation set in
// klosax/hellaswag_text_data's text format, bzip2-compressed (the stand-in
// for LLM-Adapters' hellaswag/test.json; see shared/data/SOURCES.md §6).
const HellaSwagFile = "hellaswag_val_full.txt.bz2"

// HellaSwagRecord builds the LLM-Adapters record of one HellaSwag item:
// context is "{activity_label}: {ctx}", endings the four candidate endings
// and label the 0-based index of the right one. The strings are those of
// LLM-Adapters' dataset/hellaswag/test.json:
//
//	instruction: "Please choose the correct ending to complete the given sentence: {context}\n\nEnding1: {e0} Ending2: {e1} Ending3: {e2} Ending4: {e3}\n\nAnswer format: ending1/ending2/ending3/ending4"
//	output:      "the correct answer is ending{label+1}"
//	answer:      "ending{label+1}"
func HellaSwagRecord(context string, endings [4]string, label int) prompt.Record {
	ans := fmt.Sprintf("ending%d", label+1)
	return prompt.Record{
		Instruction: "Please choose the correct ending to complete the given sentence: " + context +
			"\n\nEnding1: " + endings[0] + " Ending2: " + endings[1] + " Ending3: " + endings[2] + " Ending4: " + endings[3] +
			"\n\nAnswer format: ending1/ending2/ending3/ending4",
		Output: "the correct answer is " + ans,
		Answer: ans,
	}
}

// ReadHellaSwag reads HellaSwag items in klosax's text format from path and
// returns them as LLM-Adapters records. A path ending in ".bz2" is
// decompressed with compress/bzip2.
func ReadHellaSwag(path string) ([]prompt.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: read hellaswag: %w", err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<16)
	if strings.HasSuffix(path, ".bz2") {
		r = bzip2.NewReader(r)
	}
	return ParseHellaSwag(r, path)
}

// ParseHellaSwag parses klosax's HellaSwag text format: six lines per item,
// "{activity_label}: {ctx}", the gold label 0–3, then the four endings.
// A final newline is optional; "\r\n" line ends are accepted. Empty lines,
// a label that is not 0–3 and an incomplete last item are errors naming the
// file, line and item.
func ParseHellaSwag(r io.Reader, name string) ([]prompt.Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	var (
		recs  []prompt.Record
		group [6]string
		n     int // lines read
	)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		n++
		item, k := (n-1)/6, (n-1)%6
		if strings.TrimSpace(line) == "" {
			return nil, formatErr(name, n, item, "empty line %d of the item's 6", k+1)
		}
		group[k] = line
		if k < 5 {
			continue
		}
		label, ok := hellaswagLabel(group[1])
		if !ok {
			return nil, formatErr(name, n-4, item, "gold label %q is not 0, 1, 2 or 3", group[1])
		}
		if !strings.Contains(group[0], ": ") {
			return nil, formatErr(name, n-5, item, `context line %q lacks the "activity_label: " prefix`, clip(group[0]))
		}
		recs = append(recs, HellaSwagRecord(group[0], [4]string{group[2], group[3], group[4], group[5]}, label))
	}
	if err := sc.Err(); err != nil {
		return nil, formatErr(name, n+1, n/6, "%v", err)
	}
	if n%6 != 0 {
		return nil, formatErr(name, n, n/6, "incomplete item: %d of 6 lines", n%6)
	}
	if len(recs) == 0 {
		return nil, formatErr(name, 0, -1, "no items")
	}
	return recs, nil
}

func hellaswagLabel(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 1 || s[0] < '0' || s[0] > '3' {
		return 0, false
	}
	return int(s[0] - '0'), true
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	b := bytes.Runes([]byte(s))
	if len(b) <= max {
		return s
	}
	return string(b[:max]) + "…"
}
