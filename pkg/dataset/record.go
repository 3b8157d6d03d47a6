package dataset

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/smt-go/smt/pkg/prompt"
)

// Record is one dataset record with its place in the file.
type Record struct {
	prompt.Record
	// Index is the 0-based position of the record in its file.
	Index int64
	// Line is the 1-based line the record starts on.
	Line int64
}

// parseRecord turns the bytes of one JSON value into a Record. The value
// is known to be syntactically valid JSON.
func parseRecord(raw []byte) (prompt.Record, error) {
	if !utf8.Valid(raw) {
		return prompt.Record{}, fmt.Errorf("%w at byte %d of the record", ErrInvalidUTF8, invalidAt(raw))
	}
	if len(raw) == 0 || raw[0] != '{' {
		return prompt.Record{}, fmt.Errorf("%w: found %s", ErrNotObject, kindOf(raw))
	}
	// The last occurrence of a key wins, as with encoding/json.
	var fields [nFields][]byte
	eachMember(raw, func(key, val []byte) {
		name := key
		if bytes.IndexByte(key, '\\') >= 0 {
			name = []byte(`"` + keyName(key) + `"`)
		}
		for f, n := range fieldKeys {
			if string(name) == n {
				fields[f] = val
			}
		}
	})
	str := func(f int, required bool) (string, error) {
		key := fieldNames[f]
		v := fields[f]
		if v == nil || string(v) == "null" {
			if required {
				return "", fmt.Errorf("%w %q", ErrMissingField, key)
			}
			return "", nil
		}
		if len(v) == 0 || v[0] != '"' {
			return "", fmt.Errorf("%w: %q is %s", ErrNotString, key, kindOf(v))
		}
		s, err := unquote(v)
		if err != nil {
			return "", fmt.Errorf("field %q: %w: %v", key, ErrSyntax, err)
		}
		return s, nil
	}
	var rec prompt.Record
	var err error
	if fields[fInstruction] == nil && fields[fQuestion] != nil {
		return parseGSM8K(str)
	}
	if rec.Instruction, err = str(fInstruction, true); err != nil {
		return rec, err
	}
	if rec.Input, err = str(fInput, false); err != nil {
		return rec, err
	}
	if rec.Output, err = str(fOutput, true); err != nil {
		return rec, err
	}
	if rec.Answer, err = str(fAnswer, false); err != nil {
		return rec, err
	}
	return rec, nil
}

// The fields a record may have.
const (
	fInstruction = iota
	fInput
	fOutput
	fAnswer
	fQuestion
	nFields
)

var fieldNames = [nFields]string{"instruction", "input", "output", "answer", "question"}

// fieldKeys are the field names as raw JSON keys.
var fieldKeys = func() (k [nFields]string) {
	for i, n := range fieldNames {
		k[i] = `"` + n + `"`
	}
	return
}()

// parseGSM8K maps GSM8K's {"question", "answer"}: the answer holds the
// rationale and ends with "#### <number>".
func parseGSM8K(str func(int, bool) (string, error)) (prompt.Record, error) {
	var rec prompt.Record
	var err error
	if rec.Instruction, err = str(fQuestion, true); err != nil {
		return rec, err
	}
	if rec.Output, err = str(fAnswer, true); err != nil {
		return rec, err
	}
	if i := strings.LastIndex(rec.Output, "####"); i >= 0 {
		rec.Answer = strings.TrimSpace(rec.Output[i+4:])
	}
	return rec, nil
}

// kindOf names the JSON type of a value for messages.
func kindOf(v []byte) string {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// invalidAt returns the offset of the first byte of b that is not part of
// a valid UTF-8 sequence.
func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
