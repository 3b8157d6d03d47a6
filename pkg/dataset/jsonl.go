package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// linesParser streams the lines of a JSON Lines file.
type linesParser struct {
	br   *bufio.Reader
	line int64
	buf  []byte // the current line when it is longer than br's buffer
}

func newLinesParser(br *bufio.Reader) *linesParser { return &linesParser{br: br} }

// next returns the next non-blank line and its number, io.EOF at the end,
// or a read error. A line that is not one valid JSON value is returned with
// a *lineError, which is confined to that line.
func (p *linesParser) next() (raw []byte, line int64, err error) {
	for {
		b, err := p.readLine()
		if err != nil && (err != io.EOF || len(b) == 0) {
			if err == io.EOF {
				return nil, p.line, err
			}
			return nil, p.line + 1, err
		}
		p.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if !json.Valid(b) {
			return nil, p.line, &lineError{err: lineSyntax(b)}
		}
		return b, p.line, nil
	}
}

// readLine returns the next line without its '\n'. The slice is valid
// until the next call.
func (p *linesParser) readLine() ([]byte, error) {
	b, err := p.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		p.buf = append(p.buf[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = p.br.ReadSlice('\n')
			p.buf = append(p.buf, b...)
		}
		b = p.buf
	}
	if err == nil {
		b = b[:len(b)-1]
	}
	return b, err
}

// lineSyntax describes why a line is not valid JSON.
func lineSyntax(b []byte) error {
	var v json.RawMessage
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	switch {
	case err == nil:
		return fmt.Errorf("%w: not a single JSON value", ErrSyntax)
	case errors.As(err, &se) && se.Error() == "unexpected end of JSON input":
		return fmt.Errorf("%w (the line ends inside the JSON text)", ErrTruncated)
	}
	return fmt.Errorf("%w: %v", ErrSyntax, err)
}

// lineError is a JSON Lines record that is not valid JSON.
type lineError struct{ err error }

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }
