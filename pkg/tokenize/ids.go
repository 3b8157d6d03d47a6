package tokenize

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/smt-go/smt/pkg/tokenizer"
)

// WriteIDs reads JSON strings from r, one per line, and writes the token
// ids of each to w on its own line, separated by spaces (an empty line for
// a string with no tokens). Any other line (blank lines included) is an
// error naming the line; so is a string that is not valid UTF-8.
func WriteIDs(ctx context.Context, r io.Reader, w io.Writer, tok *tokenizer.Tokenizer, opts tokenizer.EncodeOptions) error {
	br := bufio.NewReaderSize(r, 1<<16)
	bw := bufio.NewWriterSize(w, 1<<16)
	var ids []int32
	var out []byte
	var long []byte
	for line := 1; ; line++ {
		if line%256 == 0 {
			if err := context.Cause(ctx); err != nil {
				return err
			}
		}
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], b...)
			for err == bufio.ErrBufferFull {
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("ids: read line %d: %w", line, err)
		}
		if err == io.EOF && len(b) == 0 {
			break
		}
		b = bytes.TrimRight(b, "\r\n")
		if !utf8.Valid(b) {
			return fmt.Errorf("ids: line %d: invalid UTF-8", line)
		}
		var s string
		if len(b) == 0 || b[0] != '"' {
			return fmt.Errorf("ids: line %d: want a JSON string such as \"Hello world\"", line)
		}
		if jerr := json.Unmarshal(b, &s); jerr != nil {
			return fmt.Errorf("ids: line %d: %w", line, jerr)
		}
		ids = tok.AppendEncode(ids[:0], s, opts)
		out = out[:0]
		for i, id := range ids {
			if i > 0 {
				out = append(out, ' ')
			}
			out = strconv.AppendInt(out, int64(id), 10)
		}
		out = append(out, '\n')
		if _, werr := bw.Write(out); werr != nil {
			return fmt.Errorf("ids: write: %w", werr)
		}
		if err == io.EOF {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("ids: write: %w", err)
	}
	return nil
}
