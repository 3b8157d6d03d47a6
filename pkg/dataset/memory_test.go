package dataset

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// genReader produces a dataset of n records on the fly, as a JSON array or
// as JSON Lines, without holding it in memory.
type genReader struct {
	n, i  int
	array bool
	buf   []byte
	end   bool
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.end:
			return 0, io.EOF
		case g.i == g.n:
			g.end = true
			if g.array {
				g.buf = []byte("\n]\n")
			}
		default:
			sep := "\n"
			if g.array {
				sep = ",\n"
				if g.i == 0 {
					sep = "[\n"
				}
			}
			g.buf = fmt.Appendf(g.buf, "%s{\"instruction\": \"Question %d: %s\", \"input\": \"\", \"output\": \"the correct answer is answer%d\", \"answer\": \"answer%d\"}",
				sep, g.i, strings.Repeat("word ", 40), g.i%4+1, g.i%4+1)
			if !g.array {
				g.buf = g.buf[1:]
				g.buf = append(g.buf, '\n')
			}
			g.i++
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// TestMemoryBounded streams 400,000 records (about 100 MB of JSON) and
// checks that the heap stays small: the reader holds one record at a time.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 400000
	for _, array := range []bool{true, false} {
		r := NewReader(&genReader{n: n, array: array}, "gen", Options{})
		var peak uint64
		var ms runtime.MemStats
		count := 0
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Index != int64(count) {
				t.Fatalf("record %d has index %d", count, rec.Index)
			}
			count++
			if count%50000 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
		r.Close()
		if count != n {
			t.Fatalf("%d records", count)
		}
		t.Logf("array %v: peak heap %.1f MB after GC", array, float64(peak)/1e6)
		if peak > 32<<20 {
			t.Errorf("array %v: heap reached %d bytes reading %d records", array, peak, n)
		}
	}
}
