package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/smt-go/smt/pkg/prompt"
)

// Example is one test item: its task, its index in the test file (the id
// in the predictions file) and its record.
type Example struct {
	Task string
	ID   int
	prompt.Record
}

// ReadTestJSON reads an LLM-Adapters test set: a JSON array of objects
// {"instruction", "input", "output", "answer"}.
func ReadTestJSON(path string) ([]prompt.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: read test set: %w", err)
	}
	return ParseTestJSON(data, path)
}

// ParseTestJSON parses the bytes of an LLM-Adapters test set; name (the
// file) appears in errors. The top level must be an array of objects.
// "instruction" and "answer" are required and must be non-empty; "input" and
// "output" may be missing or null. Every field present must be a string,
// except "answer", which may also be a JSON number (kept as written: the
// reference reads labels with float() when they are strings). Other keys are
// ignored. Errors are *FormatError values naming the file, line and record.
func ParseTestJSON(data []byte, name string) ([]prompt.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(data, name, -1, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, formatErr(name, lineAt(data, dec.InputOffset()), -1, "test set must be a JSON array of records, found %s", describe(tok))
	}
	var recs []prompt.Record
	for i := 0; dec.More(); i++ {
		start := skipSpace(data, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonErr(data, name, i, dec, err)
		}
		rec, err := parseRecord(raw)
		if err != nil {
			return nil, &FormatError{File: name, Line: lineAt(data, start), Record: i, Err: err}
		}
		recs = append(recs, rec)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, jsonErr(data, name, -1, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the closing ']'")
		}
		return nil, jsonErr(data, name, -1, dec, err)
	}
	return recs, nil
}

var fieldNames = [...]string{"instruction", "input", "output", "answer"}

func parseRecord(raw json.RawMessage) (prompt.Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		var v any
		_ = json.Unmarshal(raw, &v)
		return prompt.Record{}, fmt.Errorf("want a JSON object, found %s", describe(v))
	}
	var vals [len(fieldNames)]string
	for i, key := range fieldNames {
		fv, ok := obj[key]
		if !ok || string(fv) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(fv, &s); err == nil {
			vals[i] = s
			continue
		}
		var n json.Number
		if key == "answer" && json.Unmarshal(fv, &n) == nil {
			vals[i] = n.String()
			continue
		}
		var v any
		_ = json.Unmarshal(fv, &v)
		return prompt.Record{}, fmt.Errorf("field %q: want a string, found %s", key, describe(v))
	}
	rec := prompt.Record{Instruction: vals[0], Input: vals[1], Output: vals[2], Answer: vals[3]}
	if rec.Instruction == "" {
		return rec, errors.New(`missing or empty "instruction"`)
	}
	if rec.Answer == "" {
		return rec, errors.New(`missing or empty "answer"`)
	}
	return rec, nil
}

// jsonErr turns a decoding error into a *FormatError with the line of the
// fault.
func jsonErr(data []byte, name string, record int, dec *json.Decoder, err error) error {
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = errors.New("unexpected end of data")
		off = int64(len(data))
	}
	return &FormatError{File: name, Line: lineAt(data, off), Record: record, Err: err}
}

func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// describe names the JSON type of a decoded value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	}
	return fmt.Sprintf("%T", v)
}
