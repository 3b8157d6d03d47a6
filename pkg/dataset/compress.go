package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the compression of a dataset file.
type Compression int

const (
	// None: plain text.
	None Compression = iota
	// Gzip: gzip (.gz), one or more members.
	Gzip
	// Zstd: Zstandard (.zst).
	Zstd
)

// String returns "none", "gzip" or "zstd".
func (c Compression) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "none"
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// detectCompression looks at the first bytes of the file, then at the
// extension of its name.
func detectCompression(br *bufio.Reader, name string) Compression {
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".gz"), strings.HasSuffix(lower, ".gzip"):
		return Gzip
	case strings.HasSuffix(lower, ".zst"), strings.HasSuffix(lower, ".zstd"):
		return Zstd
	}
	return None
}

// decompress wraps br in the decompressor c needs. The returned closer
// releases the decompressor.
func decompress(br *bufio.Reader, c Compression) (io.Reader, func(), error) {
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, &readError{what: "gzip", err: err}
		}
		return errReader{zr, "gzip"}, func() { zr.Close() }, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, &readError{what: "zstd", err: err}
		}
		return errReader{zr, "zstd"}, zr.Close, nil
	}
	return errReader{br, "read"}, func() {}, nil
}

// readError is an error of the reader under the JSON text (I/O or
// decompression), kept apart from JSON syntax errors.
type readError struct {
	what string
	err  error
}

func (e *readError) Error() string {
	if errors.Is(e.err, io.ErrUnexpectedEOF) {
		return fmt.Sprintf("%s: %v (truncated file)", e.what, e.err)
	}
	return fmt.Sprintf("%s: %v", e.what, e.err)
}

func (e *readError) Unwrap() error { return e.err }

// Is makes a truncated compressed stream match ErrTruncated.
func (e *readError) Is(target error) bool {
	return target == ErrTruncated && errors.Is(e.err, io.ErrUnexpectedEOF)
}

// errReader marks every error of r other than io.EOF as a *readError.
type errReader struct {
	r    io.Reader
	what string
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		if _, ok := err.(*readError); !ok {
			err = &readError{what: e.what, err: err}
		}
	}
	return n, err
}
