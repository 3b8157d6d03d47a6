package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// arrayParser streams the elements of a top-level JSON array with the
// token API of encoding/json: Token for the brackets, Decode for each
// element into raw bytes.
type arrayParser struct {
	lc      *lineCounter
	dec     *json.Decoder
	started bool
	msg     json.RawMessage // reused for every element
}

func newArrayParser(r io.Reader) *arrayParser {
	lc := newLineCounter(r)
	return &arrayParser{lc: lc, dec: json.NewDecoder(lc)}
}

// next returns the raw bytes of the next element (valid until the next
// call) and the line it starts on, io.EOF after the closing bracket, or a fatal error with the line
// where the fault is (when known). atRecord reports whether the error is
// about the element that was expected next rather than about the text
// before the opening or after the closing bracket.
func (p *arrayParser) next() (raw []byte, line int64, atRecord bool, err error) {
	if !p.started {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, 1, false, p.syntax(0, err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, 1, false, fmt.Errorf("%w: the file must be a JSON array of objects", ErrLayout)
		}
		p.started = true
	}
	if !p.dec.More() {
		end := p.dec.InputOffset()
		if _, err := p.dec.Token(); err != nil { // the closing ']'
			return nil, p.lc.lineAt(p.lc.skipSeparators(end)), true, p.syntax(end, err)
		}
		end = p.dec.InputOffset()
		if _, err := p.dec.Token(); err != io.EOF {
			line := p.lc.lineAt(p.lc.skipSeparators(end))
			var re *readError
			if errors.As(err, &re) {
				return nil, line, false, err
			}
			return nil, line, false, fmt.Errorf("%w: data after the closing ']'", ErrSyntax)
		}
		return nil, 0, false, io.EOF
	}
	prev := p.dec.InputOffset()
	if err := p.dec.Decode(&p.msg); err != nil {
		start := p.lc.skipSeparators(prev)
		return nil, p.lc.lineAt(start), true, p.syntax(start, err)
	}
	end := p.dec.InputOffset()
	start := end - int64(len(p.msg))
	line = p.lc.lineAt(start)
	p.lc.advance(end)
	return p.msg, line, true, nil
}

// syntax classifies a decoding error: truncation or a syntax error, the
// latter located by re-scanning the bytes from start.
func (p *arrayParser) syntax(start int64, err error) error {
	var re *readError
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err // an I/O or decompression error
	}
	// Re-scan from the start of the value to find the exact place.
	b := p.lc.from(start)
	var v json.RawMessage
	if e := json.NewDecoder(bytes.NewReader(b)).Decode(&v); e != nil {
		var se2 *json.SyntaxError
		if errors.As(e, &se2) {
			return &posError{line: p.lc.lineAt(start + se2.Offset), err: fmt.Errorf("%w: %s", ErrSyntax, se2.Error())}
		}
	}
	return fmt.Errorf("%w: %s", ErrSyntax, se.Error())
}

// posError carries the line of a syntax error inside a record, which may
// differ from the line the record starts on.
type posError struct {
	line int64
	err  error
}

func (e *posError) Error() string { return fmt.Sprintf("%v (at line %d)", e.err, e.line) }
func (e *posError) Unwrap() error { return e.err }
