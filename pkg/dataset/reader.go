package dataset

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync/atomic"
)

// Format is the layout of a dataset file.
type Format int

const (
	// FormatAuto recognises the layout from the first non-space byte.
	FormatAuto Format = iota
	// FormatJSON is one JSON array of objects.
	FormatJSON
	// FormatJSONL is JSON Lines: one object per line.
	FormatJSONL
)

// String returns "auto", "json" or "jsonl".
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatJSONL:
		return "jsonl"
	}
	return "auto"
}

// Options control a Reader.
type Options struct {
	// Format forces the layout; FormatAuto (the zero value) detects it.
	Format Format
}

// parser yields the raw bytes of one record at a time. atRecord says
// whether an error is about the record expected next.
type parser interface {
	next() (raw []byte, line int64, atRecord bool, err error)
}

// Reader streams the records of one dataset file. It is not safe for
// concurrent use, except BytesRead and Interrupt, which may be called from
// any goroutine.
type Reader struct {
	name   string
	opt    Options
	file   *os.File // nil when reading a stream; set once
	closed bool
	size   int64

	src     *source
	closeZ  func()
	comp    Compression
	format  Format
	p       parser
	index   int64 // records seen, bad ones included
	good    int64
	err     error // sticky: every later Next returns it
	hashHex string
}

// Open opens a dataset file. Errors about its content come from Next.
func Open(path string, opt Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	r := NewReader(f, path, opt)
	r.file, r.size = f, size
	return r, nil
}

// NewReader reads a dataset from a stream. name is used in errors and to
// recognise the compression by extension.
func NewReader(rd io.Reader, name string, opt Options) *Reader {
	return &Reader{name: name, opt: opt, size: -1, src: &source{r: rd, h: sha256.New()}}
}

// Name returns the file name given to Open or NewReader.
func (r *Reader) Name() string { return r.name }

// Size returns the size of the file in bytes, or -1 when unknown.
func (r *Reader) Size() int64 { return r.size }

// BytesRead returns how many bytes of the (compressed) file have been read
// so far. It is safe to call concurrently with Next.
func (r *Reader) BytesRead() int64 { return r.src.n.Load() }

// Records returns the number of records seen so far, malformed ones
// included (the index the next record will have).
func (r *Reader) Records() int64 { return r.index }

// Good returns the number of records Next has returned without error.
func (r *Reader) Good() int64 { return r.good }

// Compression returns the compression found (valid after the first Next).
func (r *Reader) Compression() Compression { return r.comp }

// Format returns the layout found (valid after the first Next).
func (r *Reader) Format() Format { return r.format }

// SHA256 returns the hex SHA-256 of the file's bytes as stored (compressed
// files: of the compressed bytes). It is "" until Next has returned io.EOF.
func (r *Reader) SHA256() string { return r.hashHex }

// Close releases the file and the decompressor.
func (r *Reader) Close() error {
	if r.closeZ != nil {
		r.closeZ()
		r.closeZ = nil
	}
	if r.file != nil && !r.closed {
		r.closed = true
		if err := r.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("dataset: %w", err)
		}
	}
	return nil
}

// Interrupt closes the file under the reader, so that a Next blocked on a
// slow read (a pipe, a network file system) returns with an error. It is
// safe to call from any goroutine, concurrently with Next; call Close
// afterwards as usual. It does nothing for a Reader made by NewReader.
func (r *Reader) Interrupt() {
	if r.file != nil {
		r.file.Close()
	}
}

// Next returns the next record. At the end of the file it returns io.EOF.
// A malformed record gives an *Error whose Skippable method reports true:
// calling Next again goes on with the following record. Any other error
// is final and is returned again by every later call.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	if r.p == nil {
		if err := r.init(); err != nil {
			r.err = &Error{File: r.name, Record: -1, Err: err}
			return Record{}, r.err
		}
	}
	raw, line, atRecord, err := r.p.next()
	if err == io.EOF {
		return Record{}, r.finish()
	}
	idx := r.index
	if err != nil {
		var le *lineError
		if errors.As(err, &le) {
			r.index++
			return Record{}, &Error{File: r.name, Record: idx, Line: line, Err: le.err, skippable: true}
		}
		var pe *posError
		if errors.As(err, &pe) && pe.line == line {
			err = pe.err
		}
		if !atRecord {
			idx = -1
		}
		r.err = &Error{File: r.name, Record: idx, Line: line, Err: err}
		return Record{}, r.err
	}
	r.index++
	rec, err := parseRecord(raw)
	if err != nil {
		return Record{}, &Error{File: r.name, Record: idx, Line: line, Err: err, skippable: true}
	}
	r.good++
	return Record{Record: rec, Index: idx, Line: line}, nil
}

// finish reads what is left of the file (for the hash) and decides between
// io.EOF and ErrEmpty.
func (r *Reader) finish() error {
	if _, err := io.Copy(io.Discard, r.src); err != nil {
		r.err = &Error{File: r.name, Record: -1, Err: &readError{what: "read", err: err}}
		return r.err
	}
	r.hashHex = hex.EncodeToString(r.src.h.Sum(nil))
	if r.index == 0 {
		r.err = &Error{File: r.name, Record: -1, Err: ErrEmpty}
		return r.err
	}
	r.err = io.EOF
	return io.EOF
}

// utf8BOM is the byte order mark some editors put in front of UTF-8 text.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// init recognises compression and layout and sets up the parser.
func (r *Reader) init() error {
	raw := bufio.NewReaderSize(r.src, 64<<10)
	r.comp = detectCompression(raw, r.name)
	text, closeZ, err := decompress(raw, r.comp)
	if err != nil {
		return err
	}
	r.closeZ = closeZ
	br := bufio.NewReaderSize(text, 64<<10)
	if head, _ := br.Peek(3); len(head) == 3 && string(head) == string(utf8BOM) {
		br.Discard(3)
	}
	first, err := firstByte(br)
	if err != nil {
		return err
	}
	r.format = r.opt.Format
	if r.format == FormatAuto {
		switch first {
		case '[':
			r.format = FormatJSON
		case '{', 0:
			r.format = FormatJSONL
		default:
			return fmt.Errorf("%w: the text starts with %q", ErrLayout, rune(first))
		}
	}
	if r.format == FormatJSON {
		if first == 0 {
			return ErrEmpty
		}
		r.p = newArrayParser(br)
	} else {
		r.p = &linesAdapter{newLinesParser(br)}
	}
	return nil
}

// firstByte returns the first byte that is not white space without
// consuming anything, or 0 when there is none (within the buffer).
func firstByte(br *bufio.Reader) (byte, error) {
	for n := 1; n <= br.Size(); n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			var re *readError
			if errors.As(err, &re) {
				return 0, err
			}
			return 0, nil
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c, nil
		}
	}
	return 0, nil
}

// linesAdapter gives linesParser the parser interface.
type linesAdapter struct{ *linesParser }

func (a *linesAdapter) next() ([]byte, int64, bool, error) {
	raw, line, err := a.linesParser.next()
	return raw, line, true, err
}

// source counts and hashes the bytes of the file as they are read.
type source struct {
	r io.Reader
	n atomic.Int64
	h hash.Hash
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n.Add(int64(n))
	s.h.Write(p[:n])
	return n, err
}
