package dataset

import (
	"errors"
	"fmt"
	"strings"
)

// Classes of errors, for errors.Is. The Error that wraps them says where.
var (
	// ErrEmpty: the file holds no records (an empty file, "[]", or only
	// blank lines).
	ErrEmpty = errors.New("no records in the dataset")
	// ErrTruncated: the file ends inside the JSON text.
	ErrTruncated = errors.New("unexpected end of file (truncated JSON)")
	// ErrSyntax: the text is not valid JSON.
	ErrSyntax = errors.New("invalid JSON")
	// ErrNotObject: a record is a JSON value other than an object.
	ErrNotObject = errors.New("record is not a JSON object")
	// ErrMissingField: a required field is absent or null.
	ErrMissingField = errors.New("missing field")
	// ErrNotString: a field holds a number, boolean, array or object.
	ErrNotString = errors.New("field is not a string")
	// ErrInvalidUTF8: a record holds bytes that are not UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrLayout: the file is neither a JSON array nor JSON Lines.
	ErrLayout = errors.New("not a JSON array or JSON Lines")
)

// Error is an error reading a dataset file. Record is the 0-based index of
// the record at fault (-1 when the error is about the file as a whole);
// Line is the 1-based line the record starts on, or where the fault is
// (0 when unknown).
type Error struct {
	File   string
	Record int64
	Line   int64
	Err    error
	// skippable marks an error confined to one record: the reader can go on.
	skippable bool
}

// Error formats the error as "dataset: FILE: record N (line L): what".
func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString("dataset: ")
	sb.WriteString(e.File)
	switch {
	case e.Record >= 0 && e.Line > 0:
		fmt.Fprintf(&sb, ": record %d (line %d)", e.Record, e.Line)
	case e.Record >= 0:
		fmt.Fprintf(&sb, ": record %d", e.Record)
	case e.Line > 0:
		fmt.Fprintf(&sb, ": line %d", e.Line)
	}
	sb.WriteString(": ")
	sb.WriteString(e.Err.Error())
	return sb.String()
}

// Unwrap returns the underlying error (one of the Err* classes, or an I/O
// error).
func (e *Error) Unwrap() error { return e.Err }

// Skippable reports whether the error concerns one record only, so that a
// caller that skips bad records can call Next again.
func (e *Error) Skippable() bool { return e.skippable }

// IsSkippable reports whether err is an *Error confined to one record.
func IsSkippable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.skippable
}
