package eval

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tolerance is the largest |prediction − gold| a Number task counts as
// correct (LLM-Adapters evaluate.py: miss = 0.001, compared with <=).
const Tolerance = 0.001

// Extract returns the answer the reference would read from generation, or
// "" when there is none (which is scored wrong).
//
//   - Choice: the first match of the task's alternation in the lower-cased
//     generation (run_commonsense_parallel.py extract_answer).
//   - Number: the last number after removing commas
//     (evaluate.py extract_answer_number), as ASCII text.
//   - Letter: the first capital A–E (evaluate.py extract_answer_letter).
func (t Task) Extract(generation string) string {
	switch t.Kind {
	case Choice:
		return ExtractChoice(t.re, generation)
	case Number:
		s, _, _ := ExtractNumber(generation)
		return s
	case Letter:
		return ExtractLetter(generation)
	}
	return ""
}

// Correct reports whether prediction (from Extract) matches gold.
//
//   - Choice: prediction == lower(gold); an empty prediction is wrong.
//   - Number: |prediction − float(gold)| <= Tolerance; an empty or
//     unparsable prediction, or a gold that is not a number, is wrong.
//   - Letter: prediction == gold, case-sensitive; "" is wrong.
func (t Task) Correct(prediction, gold string) bool {
	switch t.Kind {
	case Choice:
		return prediction != "" && prediction == pythonLower(gold)
	case Number:
		if prediction == "" {
			return false
		}
		p, err := parseFloat(prediction)
		if err != nil {
			return false
		}
		g, err := parseFloat(gold)
		if err != nil {
			return false
		}
		return math.Abs(g-p) <= Tolerance
	case Letter:
		return prediction != "" && prediction == gold
	}
	return false
}

// Score extracts the answer from generation and compares it with gold.
func (t Task) Score(generation, gold string) (prediction string, correct bool) {
	prediction = t.Extract(generation)
	return prediction, t.Correct(prediction, gold)
}

// ExtractChoice lower-cases text and returns the first (leftmost) match of
// re, or "" when there is none.
//
// Reference quirks kept: matching is on substrings with no word boundaries,
// so "untrue" yields "true", "answer12" yields "answer1" and "option1 or
// option2" yields "option1"; the first mention wins even when the model
// later changes its mind. Lower-casing follows Python's str.lower(): the one
// character whose full lower-case mapping differs from Go's simple one in a
// way that can change an ASCII match, "İ" (U+0130), becomes "i" + U+0307 as
// in Python, so "OPTİON1" does not match.
func ExtractChoice(re *regexp.Regexp, text string) string {
	return re.FindString(pythonLower(text))
}

// ExtractNumber returns the last number in text after every comma is
// removed, as LLM-Adapters' extract_answer_number does: regex
// `-?\d+\.?\d*`, last match, float(). It returns the match as ASCII text
// (Unicode digits mapped to 0–9), its value, and whether there was one.
//
// Reference quirks kept: commas are deleted before matching, so "1,234.5"
// is 1234.5 but "3,4" is 34; a hyphen directly before a digit is a minus
// sign, so "5-3" ends in -3; a trailing period belongs to the number ("42."
// is 42); "1.2.3" matches "1.2" then "3"; any Unicode decimal digit counts
// (Python's \d); a number too large for float64 is ±Inf, which is never
// within the tolerance.
func ExtractNumber(text string) (match string, value float64, ok bool) {
	text = strings.ReplaceAll(text, ",", "")
	all := numberRE.FindAllString(text, -1)
	if len(all) == 0 {
		return "", math.Inf(1), false
	}
	match = asciiDigits(all[len(all)-1])
	v, err := parseFloat(match)
	if err != nil {
		return "", math.Inf(1), false
	}
	return match, v, true
}

// ExtractLetter returns the first capital A, B, C, D or E in text, or "".
//
// Reference quirk kept (evaluate.py extract_answer_letter, regex
// `A|B|C|D|E`, first match, case-sensitive): any stray capital counts, so
// "A train leaves ... the answer is (C)" yields "A", and "Every option..."
// yields "E". Lower-case letters never match.
func ExtractLetter(text string) string {
	return letterRE.FindString(text)
}

// ResponseMarker is the section header that ends every instruction prompt.
const ResponseMarker = "### Response:"

// LLMAdaptersResponse returns the part of generation that LLM-Adapters'
// evaluate.py and commonsense_evaluate.py score. They decode prompt and
// generation together and keep output.split("### Response:")[1].strip(): the
// text between the prompt's marker and the next one. For a generation (the
// continuation of a prompt with one marker) that is everything before the
// first marker the model itself emits, without surrounding whitespace. This
// matters for the math tasks, whose last number may otherwise come from a
// new "### Instruction: ... ### Response: ..." block the model runs on into.
// SMT's run_commonsense_parallel.py does not cut; use the generation as is
// there.
func LLMAdaptersResponse(generation string) string {
	if i := strings.Index(generation, ResponseMarker); i >= 0 {
		generation = generation[:i]
	}
	return strings.TrimSpace(generation)
}

// pythonLower lower-cases s like Python 3's str.lower() as far as ASCII
// matches are concerned.
func pythonLower(s string) string {
	if strings.ContainsRune(s, '\u0130') {
		s = strings.ReplaceAll(s, "\u0130", "i\u0307")
	}
	return strings.ToLower(s)
}

// parseFloat parses s like Python's float() does for the strings this
// package meets: surrounding whitespace is ignored and overflow gives ±Inf.
func parseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return v, nil
		}
		return 0, err
	}
	return v, nil
}

// asciiDigits maps every Unicode decimal digit in s to its ASCII digit.
// Unicode allocates each set of decimal digits as a contiguous run 0–9 (and
// some runs hold several sets back to back), so a digit's value is its
// distance from the start of its run, modulo 10.
func asciiDigits(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf || !unicode.IsDigit(r) {
			b.WriteRune(r)
			continue
		}
		start := r
		for unicode.IsDigit(start - 1) {
			start--
		}
		b.WriteByte(byte('0' + (r-start)%10))
	}
	return b.String()
}
