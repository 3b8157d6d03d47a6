package arrowcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/zstd"

	"github.com/smt-go/smt/pkg/mmapfile"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ids", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	{Name: "mask", Type: arrow.ListOf(arrow.PrimitiveTypes.Uint8), Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "record", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// writeFile returns an Arrow IPC file of rows examples in batches of
// batch rows, written with the given writer options (compression). Masks
// are runs of 0 then 1, as loss masks are.
func writeFile(t testing.TB, rows, batch, maxLen int, opts ...ipc.Option) []byte {
	t.Helper()
	var out bytes.Buffer
	fw, err := ipc.NewFileWriter(&out, append([]ipc.Option{ipc.WithSchema(testSchema)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema)
	defer b.Release()
	r := rand.New(rand.NewPCG(1, 2))
	flush := func() {
		rec := b.NewRecordBatch()
		defer rec.Release()
		if err := fw.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < rows; i++ {
		n := 1 + r.IntN(maxLen)
		ids := b.Field(0).(*array.ListBuilder)
		mask := b.Field(1).(*array.ListBuilder)
		ids.Append(true)
		mask.Append(true)
		p := r.IntN(n)
		for j := 0; j < n; j++ {
			ids.ValueBuilder().(*array.Int32Builder).Append(int32(r.IntN(32000)))
			mask.ValueBuilder().(*array.Uint8Builder).Append(uint8(min(1, j/max(p, 1))))
		}
		b.Field(2).(*array.StringBuilder).Append("example")
		b.Field(3).(*array.Int64Builder).Append(int64(3 * i))
		if (i+1)%batch == 0 {
			flush()
		}
	}
	if rows%batch != 0 {
		flush()
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// span is a compressed buffer: the file offset of its 8-byte length and
// its length with the prefix.
type span struct{ off, length int }

// compressedBuffers lists the non-empty buffers of every record batch of
// a well-formed file.
func compressedBuffers(t testing.TB, data []byte) []span {
	t.Helper()
	n := len(data)
	size := int(binary.LittleEndian.Uint32(data[n-10:]))
	fb := &fbCheck{buf: data[n-10-size : n-10]}
	start, cnt := fb.vector(fb.root(), 10, 24)
	var out []span
	for i := 0; i < cnt; i++ {
		p := int(start) + 24*i
		off := int(binary.LittleEndian.Uint64(fb.buf[p:]))
		meta := int(binary.LittleEndian.Uint32(fb.buf[p+8:]))
		m := &fbCheck{buf: data[off+8 : off+meta]}
		hdr, _ := m.table(m.root(), 8)
		bs, bc := m.vector(hdr, 8, 16)
		for j := 0; j < bc; j++ {
			q := int(bs) + 16*j
			bo := int(binary.LittleEndian.Uint64(m.buf[q:]))
			bl := int(binary.LittleEndian.Uint64(m.buf[q+8:]))
			if bl > 0 {
				out = append(out, span{off + meta + bo, bl})
			}
		}
	}
	if fb.err != nil || len(out) == 0 {
		t.Fatalf("no buffers found (%v)", fb.err)
	}
	return out
}

// readAll reads every record batch of data as the projects' readers do:
// through ipc.NewMappedFileReader on a read-only mapping.
func readAll(t testing.TB, data []byte) (rows int, err error) {
	p := filepath.Join(t.TempDir(), "x.arrow")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mf, err := mmapfile.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	defer func() {
		if r := recover(); r != nil {
			err = errors.New(fmt.Sprint(r))
		}
	}()
	fr, err := ipc.NewMappedFileReader(mf.Data)
	if err != nil {
		return 0, err
	}
	defer fr.Close()
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.RecordBatch(i)
		if err != nil {
			return rows, err
		}
		rows += int(rec.NumRows())
	}
	return rows, nil
}

func TestLegitimateFiles(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []ipc.Option
	}{{"plain", nil}, {"zstd", []ipc.Option{ipc.WithZstd()}}, {"lz4", []ipc.Option{ipc.WithLZ4()}}} {
		data := writeFile(t, 3000, 1024, 700, c.opts...)
		err := Check(data, Options{})
		if c.opts == nil && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.opts != nil && (err == nil || !strings.Contains(err.Error(), "record batch 0: compressed bodies are not supported")) {
			t.Errorf("%s without Compressed: %v", c.name, err)
		}
		if err := Check(data, Options{Compressed: true}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if rows, err := readAll(t, data); rows != 3000 || err != nil {
			t.Errorf("%s: read %d rows, %v", c.name, rows, err)
		}
		if c.opts == nil {
			continue
		}
		// The loss masks compress far beyond 64× (which is why MaxRatio
		// is off by default) and every declared length is within the
		// stream's bound.
		best := 0.0
		for _, s := range compressedBuffers(t, data) {
			d := int64(binary.LittleEndian.Uint64(data[s.off:]))
			if d > 0 {
				best = max(best, float64(d)/float64(s.length-8))
			}
		}
		t.Logf("%s: %d bytes, best ratio %.0f×", c.name, len(data), best)
		if best < 64 {
			t.Errorf("%s: best ratio %.0f×, expected the masks to compress over 64×", c.name, best)
		}
		if err := Check(data, Options{Compressed: true, MaxRatio: 64}); err == nil || !strings.Contains(err.Error(), "over 64×") {
			t.Errorf("%s with MaxRatio 64: %v", c.name, err)
		}
	}
}

// TestDeclaredLength corrupts the declared decompressed length of a
// compressed buffer: every rule refuses it, and a refused length would
// have been allocated by the reader.
func TestDeclaredLength(t *testing.T) {
	for _, codec := range []ipc.Option{ipc.WithZstd(), ipc.WithLZ4()} {
		good := writeFile(t, 200, 100, 50, codec)
		spans := compressedBuffers(t, good)
		s := spans[len(spans)/2]
		orig := int64(binary.LittleEndian.Uint64(good[s.off:]))
		cases := []struct {
			declared int64
			opts     Options
			want     string
		}{
			{-2, Options{}, "declares a decompressed length of -2"},
			{-1 << 62, Options{}, "declares a decompressed length"},
			{1 << 40, Options{}, "over the limit of 1073741824"},
			{1 << 62, Options{}, "over the limit"},
			{200 << 20, Options{}, "data holds at most"},
			{orig + 1<<20, Options{}, "data holds at most"},
			{orig, Options{MaxBuffer: orig - 1}, "over the limit"},
			{orig, Options{MaxBatch: orig - 1}, "limit per record batch"},
			{orig, Options{MaxRatio: 1}, "over 1×"},
		}
		for _, c := range cases {
			data := bytes.Clone(good)
			binary.LittleEndian.PutUint64(data[s.off:], uint64(c.declared))
			c.opts.Compressed = true
			err := Check(data, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "record batch") {
				t.Errorf("declared %d, %+v: %v, want %q", c.declared, c.opts, err, c.want)
			}
		}
		// A length within the stream's bound but wrong is left to the
		// reader.
		data := bytes.Clone(good)
		binary.LittleEndian.PutUint64(data[s.off:], uint64(orig-1))
		if err := Check(data, Options{Compressed: true}); err != nil {
			t.Errorf("declared %d: %v", orig-1, err)
		}
		readAll(t, data)
	}
}

// TestRefusedAllocatesNothing checks that the corrupt length would cost
// an allocation of its size in the reader, and that Check itself
// allocates nothing on a large file.
func TestRefusedAllocatesNothing(t *testing.T) {
	good := writeFile(t, 200, 100, 50, ipc.WithZstd())
	s := compressedBuffers(t, good)[0]
	data := bytes.Clone(good)
	const huge = 256 << 20
	binary.LittleEndian.PutUint64(data[s.off:], huge)
	if err := Check(data, Options{Compressed: true}); err == nil {
		t.Fatal("accepted")
	}
	alloc := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	if got := alloc(func() { readAll(t, data) }); got < huge {
		t.Errorf("the reader allocated %d bytes for a %d-byte declared length; the test no longer shows the hazard", got, huge)
	}
	big := writeFile(t, 3000, 500, 300, ipc.WithZstd())
	if n := testing.AllocsPerRun(5, func() {
		if err := Check(big, Options{Compressed: true}); err != nil {
			t.Fatal(err)
		}
	}); n > 0 {
		t.Errorf("Check allocated %v times", n)
	}
}

// zstdFrame builds a zstd frame: header descriptor fhd, window descriptor
// wd (when not single-segment), frame content size fcs (per fhd), then
// blocks given as (type, size, data).
func zstdFrame(fhd, wd byte, fcs []byte, blocks ...zblock) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, fhd)
	if fhd&0x20 == 0 {
		b = append(b, wd)
	}
	b = append(b, fcs...)
	for i, bl := range blocks {
		h := uint32(bl.typ)<<1 | uint32(bl.size)<<3
		if i == len(blocks)-1 {
			h |= 1
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16))
		b = append(b, bl.data...)
	}
	return b
}

type zblock struct {
	typ  int
	size int
	data []byte
}

func TestZstdBound(t *testing.T) {
	raw := zblock{0, 5, []byte("hello")}
	rle := zblock{1, 1000, []byte{'x'}}
	cases := []struct {
		name   string
		s      []byte
		window int64
		most   int64
		want   string // error, when not ""
	}{
		{name: "raw+rle", s: zstdFrame(0x00, 0x00, nil, raw, rle), most: 1005},
		{name: "fcs", s: zstdFrame(0x20, 0, []byte{200}, rle), most: 200},
		{name: "fcs2", s: zstdFrame(0x60, 0, []byte{0, 1}, rle), most: 512}, // 256+256
		{name: "two frames", s: append(zstdFrame(0x00, 0x00, nil, raw), zstdFrame(0x00, 0x00, nil, raw)...), most: 10},
		{name: "skippable", s: append([]byte{0x5A, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 9, 9}, zstdFrame(0x00, 0x00, nil, raw)...), most: 5},
		{name: "compressed", s: zstdFrame(0x00, 0x08, nil, zblock{2, 2, []byte{0, 0}}), most: 2048},
		{name: "compressed big window", s: zstdFrame(0x00, 0x50, nil, zblock{2, 2, []byte{0, 0}}), most: 128 << 10},
		{name: "window", s: zstdFrame(0x00, 0x98, nil, raw), want: "declares a 536870912-byte window"},
		{name: "single window", s: zstdFrame(0xE0, 0, binary.LittleEndian.AppendUint64(nil, 60<<30), raw), want: "declares a 64424509440-byte window"},
		{name: "truncated block", s: zstdFrame(0x00, 0x00, nil, zblock{0, 6, []byte("hello")}), want: "block overruns"},
		{name: "trailing", s: append(zstdFrame(0x00, 0x00, nil, raw), 1), want: "truncated frame"},
		{name: "garbage", s: []byte("not zstd"), want: "no frame magic"},
		{name: "reserved type", s: zstdFrame(0x00, 0x00, nil, zblock{3, 0, nil}), want: "reserved block type"},
		{name: "block max", s: zstdFrame(0x00, 0x00, nil, zblock{1, 1025, []byte{1}}), want: "block maximum"},
		{name: "reserved bit", s: zstdFrame(0x08, 0x00, nil, raw), want: "reserved header bit"},
		{name: "checksum", s: append(zstdFrame(0x04, 0x00, nil, raw), 1, 2, 3), want: "truncated checksum"},
	}
	for _, c := range cases {
		w := c.window
		if w == 0 {
			w = DefaultMaxZstdWindow
		}
		most, err := zstdBound(c.s, w)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %d, %v; want %q", c.name, most, err, c.want)
			}
			continue
		}
		if err != nil || most != c.most {
			t.Errorf("%s: %d, %v; want %d", c.name, most, err, c.most)
		}
	}
}

// TestZstdBoundAgrees decodes real zstd streams (single and multiple
// frames, checksums, several blocks, an incompressible tail) and checks
// that the bound walks them and covers what they decode to.
func TestZstdBoundAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 100, 5000, 300 << 10, 3 << 20} {
		src := make([]byte, n)
		for i := range src {
			if i > n/2 {
				src[i] = byte(r.IntN(256))
			} else {
				src[i] = byte(i / 1000)
			}
		}
		for _, opts := range [][]zstd.EOption{nil, {zstd.WithEncoderCRC(false)}, {zstd.WithSingleSegment(true)}, {zstd.WithWindowSize(1 << 20)}} {
			enc, _ := zstd.NewWriter(nil, opts...)
			var s []byte
			var buf bytes.Buffer
			enc.Reset(&buf)
			enc.Write(src)
			enc.Close()
			s = append(s, buf.Bytes()...)
			s = enc.EncodeAll(src, s) // a second frame
			most, err := zstdBound(s, max(DefaultMaxZstdWindow, 2*int64(2*n)))
			if err != nil || most < int64(2*n) {
				t.Errorf("%d bytes, %d options: bound %d, %v", n, len(opts), most, err)
			}
		}
	}
}

func TestLZ4Bound(t *testing.T) {
	hdr := func(flg, bd byte) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, 0x184D2204), flg, bd, 0)
	}
	blk := func(size uint32, n int) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, size), make([]byte, n)...)
	}
	end := []byte{0, 0, 0, 0}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		s    []byte
		most int64
		want string
	}{
		{name: "uncompressed", s: cat(hdr(0x40, 0x40), blk(0x80000000|10, 10), end), most: 10},
		{name: "compressed", s: cat(hdr(0x40, 0x40), blk(10, 10), end), most: 64 << 10},
		{name: "4M", s: cat(hdr(0x60, 0x70), blk(10, 10), blk(0x80000000|3, 3), end), most: 4<<20 + 3},
		{name: "checksums", s: cat(hdr(0x54, 0x40), blk(3, 3+4), end, []byte{1, 2, 3, 4}), most: 64 << 10},
		{name: "content size", s: cat(hdr(0x48, 0x40), make([]byte, 8), blk(3, 3), end), most: 64 << 10},
		{name: "two frames", s: cat(hdr(0x40, 0x40), end, hdr(0x40, 0x40), blk(0x80000000|1, 1), end), most: 1},
		{name: "skippable", s: cat([]byte{0x50, 0x2A, 0x4D, 0x18, 1, 0, 0, 0, 7}, hdr(0x40, 0x40), end), most: 0},
		{name: "no end", s: cat(hdr(0x40, 0x40), blk(3, 3)), want: "truncated block header"},
		{name: "overrun", s: cat(hdr(0x40, 0x40), blk(30, 3), end), want: "block overruns"},
		{name: "block max", s: cat(hdr(0x40, 0x40), blk(64<<10+1, 0)), want: "block maximum"},
		{name: "dict id", s: cat(hdr(0x41, 0x40), end), want: "unsupported frame descriptor"},
		{name: "version", s: cat(hdr(0x80, 0x40), end), want: "unsupported frame descriptor"},
		{name: "block size", s: cat(hdr(0x40, 0x30), end), want: "unsupported frame descriptor"},
		{name: "legacy", s: cat(binary.LittleEndian.AppendUint32(nil, 0x184C2102), blk(3, 3)), want: "no frame magic"},
	}
	for _, c := range cases {
		most, err := lz4Bound(c.s)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %d, %v; want %q", c.name, most, err, c.want)
			}
			continue
		}
		if err != nil || most != c.most {
			t.Errorf("%s: %d, %v; want %d", c.name, most, err, c.most)
		}
	}
}

func TestRefusals(t *testing.T) {
	plain := writeFile(t, 20, 10, 5)
	if err := Check(plain, Options{}); err != nil {
		t.Fatal(err)
	}
	// Not Arrow files at all pass, for the reader to refuse.
	for _, d := range [][]byte{nil, []byte("ARROW1"), []byte("not an arrow file at all")} {
		if err := Check(d, Options{}); err != nil {
			t.Errorf("%q: %v", d, err)
		}
	}
	// A truncated footer or a corrupt offset is an error, not a panic.
	n := len(plain)
	for i := 0; i < 2000; i++ {
		d := bytes.Clone(plain)
		p := n - 10 - 1 - (i*7)%min(n-10, 600)
		d[p] ^= byte(1 + i%255)
		Check(d, Options{}) // must not panic
		Check(d, Options{Compressed: true})
	}
}
