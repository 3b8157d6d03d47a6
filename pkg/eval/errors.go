package eval

import (
	"bytes"
	"fmt"
)

// FormatError reports malformed data: the file, the 1-based line (0 when
// unknown), the 0-based record index (-1 when the fault is not inside one
// record), and what is wrong.
type FormatError struct {
	// File is the path (or name) of the data.
	File string
	// Line is the 1-based line of the fault, 0 when unknown.
	Line int
	// Record is the 0-based record or item index, -1 when none applies.
	Record int
	// Err says what is wrong.
	Err error
}

// Error formats the error as "eval: FILE:LINE: record N: message".
func (e *FormatError) Error() string {
	var b bytes.Buffer
	b.WriteString("eval: ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Record >= 0 {
		fmt.Fprintf(&b, ": record %d", e.Record)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(file string, line, record int, format string, args ...any) *FormatError {
	return &FormatError{File: file, Line: line, Record: record, Err: fmt.Errorf(format, args...)}
}

// lineAt returns the 1-based line number of byte offset off in data.
func lineAt(data []byte, off int64) int {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}
