package eval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smt-go/smt/internal/testutil"
)

func TestReadHellaSwagReal(t *testing.T) {
	path := testutil.Shared(t, filepath.Join("hellaswag-val", HellaSwagFile))
	recs, err := ReadHellaSwag(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10042 {
		t.Fatalf("%d items, want 10042", len(recs))
	}
	labels := map[string]int{}
	for _, r := range recs {
		labels[r.Answer]++
	}
	want := map[string]int{"ending1": 2515, "ending2": 2485, "ending3": 2584, "ending4": 2458}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("%s: %d, want %d", k, labels[k], v)
		}
	}
	// The first item of the validation set, in LLM-Adapters' format.
	first := "Please choose the correct ending to complete the given sentence: Roof shingle removal: A man is sitting on a roof. he\n\n" +
		"Ending1: is using wrap to wrap a pair of skis. Ending2: is ripping level tiles off. Ending3: is holding a rubik's cube. Ending4: starts pulling up roofing on a roof.\n\n" +
		"Answer format: ending1/ending2/ending3/ending4"
	if recs[0].Instruction != first || recs[0].Answer != "ending4" || recs[0].Output != "the correct answer is ending4" || recs[0].Input != "" {
		t.Errorf("first record = %+v", recs[0])
	}
	if last := recs[len(recs)-1]; !strings.HasPrefix(last.Instruction, "Please choose the correct ending to complete the given sentence: Family Life: How to tell if your teen is being abused.") || last.Answer != "ending3" {
		t.Errorf("last record = %+v", last)
	}
}

const hsItem = "Canoeing: Two women are shown. the child\n2\nend a.\nend b.\nend c.\nend d.\n"

func TestParseHellaSwag(t *testing.T) {
	recs, err := ParseHellaSwag(strings.NewReader(strings.ReplaceAll(hsItem+strings.TrimSuffix(hsItem, "\n"), "\n", "\r\n")), "x.txt")
	if err != nil || len(recs) != 2 || recs[1].Answer != "ending3" || !strings.Contains(recs[1].Instruction, "Ending4: end d.\n\n") {
		t.Fatalf("recs = %+v, %v", recs, err)
	}
	cases := []struct {
		name, data string
		line, item int
		msg        string
	}{
		{"bad label", hsItem + "Ctx: x\n4\na\nb\nc\nd\n", 8, 1, `gold label "4"`},
		{"word label", "Ctx: x\ntwo\na\nb\nc\nd\n", 2, 0, `gold label "two"`},
		{"short", hsItem + "Ctx: x\n1\na\n", 9, 1, "incomplete item: 3 of 6"},
		{"empty line", hsItem + "Ctx: x\n1\na\n\nc\nd\n", 10, 1, "empty line 4"},
		{"no label prefix", "no colon here\n1\na\nb\nc\nd\n", 1, 0, "activity_label"},
		{"empty", "", 0, -1, "no items"},
	}
	for _, c := range cases {
		_, err := ParseHellaSwag(strings.NewReader(c.data), "hs.txt")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "hs.txt" || fe.Line != c.line || fe.Record != c.item || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v (want line %d item %d %q)", c.name, err, c.line, c.item, c.msg)
		}
	}
}

func TestHellaSwagPlainAndBadBzip2(t *testing.T) {
	tmp := t.TempDir()
	plain := filepath.Join(tmp, "hs.txt")
	if err := os.WriteFile(plain, []byte(hsItem), 0o644); err != nil {
		t.Fatal(err)
	}
	exs, err := Loader{DataDir: tmp, HellaSwagPath: plain}.Load("hellaswag")
	if err != nil || len(exs) != 1 || exs[0].Task != "hellaswag" || exs[0].Answer != "ending3" {
		t.Errorf("plain: %+v %v", exs, err)
	}
	bad := filepath.Join(tmp, "hs.txt.bz2")
	if err := os.WriteFile(bad, []byte(hsItem), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadHellaSwag(bad)
	if err == nil || !strings.Contains(err.Error(), "hs.txt.bz2") || !strings.Contains(err.Error(), "bzip2") {
		t.Errorf("bad bzip2: %v", err)
	}
}
