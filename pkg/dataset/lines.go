package dataset

import (
	"bytes"
	"io"
)

// lineCounter passes reads through and remembers the bytes read but not yet
// counted, so that the line of any offset at or after the last counted one
// can be found. The caller advances it past each record; what it holds is
// bounded by the JSON decoder's read-ahead.
type lineCounter struct {
	r    io.Reader
	buf  []byte // bytes from offset base on
	base int64  // stream offset of buf[0]
	line int64  // line number (1-based) at offset base
}

func newLineCounter(r io.Reader) *lineCounter { return &lineCounter{r: r, line: 1} }

// Read reads from the underlying reader and keeps a copy.
func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// clamp converts a stream offset to an index into buf.
func (c *lineCounter) clamp(off int64) int {
	k := off - c.base
	if k < 0 {
		return 0
	}
	if k > int64(len(c.buf)) {
		return len(c.buf)
	}
	return int(k)
}

// lineAt returns the line of stream offset off (off ≥ the last advance).
func (c *lineCounter) lineAt(off int64) int64 {
	return c.line + int64(bytes.Count(c.buf[:c.clamp(off)], []byte{'\n'}))
}

// advance counts the lines before off and forgets the bytes there.
func (c *lineCounter) advance(off int64) {
	k := c.clamp(off)
	c.line += int64(bytes.Count(c.buf[:k], []byte{'\n'}))
	c.base += int64(k)
	c.buf = c.buf[:copy(c.buf, c.buf[k:])]
}

// skipSeparators returns the offset of the first byte at or after off that
// is neither JSON white space nor a comma (or the end of what was read).
func (c *lineCounter) skipSeparators(off int64) int64 {
	for k := c.clamp(off); k < len(c.buf); k++ {
		switch c.buf[k] {
		case ' ', '\t', '\r', '\n', ',':
		default:
			return c.base + int64(k)
		}
	}
	return c.base + int64(len(c.buf))
}

// from returns the bytes read from offset off on.
func (c *lineCounter) from(off int64) []byte { return c.buf[c.clamp(off):] }
