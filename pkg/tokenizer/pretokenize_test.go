package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// refPattern is llama3Pattern for a backtracking engine with lookahead
// (regexp2, .NET syntax). Two spellings differ from the tokenizer.json
// text, to give the semantics of Hugging Face's Oniguruma engine: the
// contractions are written out with Unicode simple case folding ("ſ"
// matches "s"; .NET's IgnoreCase does not do that), and \s is Unicode
// White_Space (which .NET's \s already is).
const refPattern = `'(?:[sSſ]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

var refRegexp = regexp2.MustCompile(refPattern, regexp2.None)

// refSplit splits s with the regex (s must be valid UTF-8).
func refSplit(t testing.TB, s string) []string {
	rs := []rune(s)
	var out []string
	m, err := refRegexp.FindRunesMatch(rs)
	pos := 0
	for ; err == nil && m != nil; m, err = refRegexp.FindNextMatch(m) {
		if m.RuneIndex > pos {
			out = append(out, string(rs[pos:m.RuneIndex])) // unmatched gap (Isolated keeps it)
		}
		out = append(out, string(rs[m.RuneIndex:m.RuneIndex+m.RuneLength]))
		pos = m.RuneIndex + m.RuneLength
	}
	if err != nil {
		t.Fatal(err)
	}
	if pos < len(rs) {
		out = append(out, string(rs[pos:]))
	}
	return out
}

func scanSplit(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := nextLlama3Word(s, i)
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func TestLlama3SplitVsRegex(t *testing.T) {
	var texts []string
	b, err := os.ReadFile(filepath.Join("testdata", "hard_strings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hs struct{ Strings []struct{ Text string } }
	if err := json.Unmarshal(b, &hs); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs.Strings {
		texts = append(texts, h.Text)
	}
	texts = append(texts, splitCases...)
	for _, s := range texts {
		want := refSplit(t, s)
		if got := scanSplit(s); !slices.Equal(got, want) {
			t.Errorf("split %q:\n got  %q\n want %q", s, got, want)
		}
	}
}

var splitCases = []string{
	"Hello world", " Hello", "  Hello", "Hello  world", "a\n\nb", "a \n b", "x  \n\n  y", "  ", "   x",
	"\t\tx", "\n", "\n\n", " \n", "\n ", " \t\n\r\n x", "123456", "1 23 4567", " 12", "a1b2", "x³²",
	"don't", "DON'T", "I'M", "you're", "'ll", "'LL", "'ſ", "'Ss", "'", "''s", " 's", "x's'",
	"...", " ...", " ...\n\n", "!!\r\n", "a.b", "(x)", "😀😀 😀", " 😀x", "\u00a0x", "\u3000\u3000x", "\u0085x",
	"\ufeff\ufeff x", "\u2028\u2029", "x\u200dy", "e\u0301", " \u0301", "日本語 テキスト", "\r\r\n\r", "a\rb",
	"x\v\fy", "-1.5e10", "$12.34", "#### 72", "x   ", "   \n", "\n   ",
}

// FuzzLlama3Split compares the hand-written scanner with the regex.
func FuzzLlama3Split(f *testing.F) {
	for _, s := range splitCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			// The scanner treats a malformed byte as one symbol
			// character; it must still tile the input.
			if got := strings.Join(scanSplit(s), ""); got != s {
				t.Fatalf("split of %q does not tile it", s)
			}
			return
		}
		want := refSplit(t, s)
		if got := scanSplit(s); !slices.Equal(got, want) {
			t.Fatalf("split %q:\n got  %q\n want %q", s, got, want)
		}
	})
}
