// Package arrowcheck vets an Arrow IPC file before arrow-go's reader sees
// it.
//
// arrow-go trusts counts and lengths read from the file in ways that
// recover() cannot undo: a corrupt vector count makes it allocate up to
// 2³² elements (a fatal out-of-memory rather than an error), a big-endian
// flag makes it byte-swap buffers in place (a fault when the file is a
// read-only mapping), a compressed buffer's declared decompressed length
// is allocated as given before a byte is decompressed, and a record
// batch's buffers are read past the end of their vector when the schema
// calls for more. Check walks the footer's flatbuffers and every
// record-batch message and refuses such files with an error. Anything
// else wrong is left to the reader, which reports it as an error or a
// recoverable panic.
package arrowcheck

import (
	"encoding/binary"
	"errors"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// Defaults for the zero fields of Options.
const (
	// DefaultMaxBuffer is the default cap on one buffer's declared
	// decompressed length: 1 GiB.
	DefaultMaxBuffer = 1 << 30
	// DefaultMaxBatch is the default cap on the declared decompressed
	// lengths of one record batch's buffers together: 4 GiB.
	DefaultMaxBatch = 4 << 30
	// DefaultMaxZstdWindow is the default window a zstd frame may declare
	// whatever its buffer's length: 8 MiB, the window of the zstd encoder
	// arrow-go writes with, and of zstd levels up to 19.
	DefaultMaxZstdWindow = 8 << 20
)

// Options say which optional features of the format a file may use and
// bound the memory its compressed buffers may ask for. The zero value
// refuses compressed bodies.
//
// # Compressed buffers
//
// An Arrow IPC compressed buffer is an int64 little-endian decompressed
// length followed by one zstd or LZ4 stream; a length of -1 marks a
// buffer stored uncompressed. arrow-go allocates the declared length in
// one piece, then decompresses into it, so a corrupt length is allocated
// whatever the stream holds; its zstd decoder also allocates the history
// window each frame declares (up to 512 MiB) before decoding a block.
// Check therefore walks each compressed buffer's frames and blocks
// (headers only, without decompressing) and refuses the file unless, for
// every buffer whose declared length L is not -1:
//
//   - L ≥ 0 and L ≤ MaxBuffer;
//   - L ≤ MaxRatio × the stream's length, when MaxRatio is positive;
//   - L ≤ what the stream's frames can decompress to: for zstd the sum
//     over frames of the Frame_Content_Size where the frame declares one,
//     else of the raw and RLE block sizes plus the block maximum
//     (min(window, 128 KiB)) for each compressed block; for LZ4 the sum
//     of the uncompressed block sizes plus the frame's block maximum
//     (64 KiB … 4 MiB) for each compressed block;
//   - every zstd frame's window ≤ max(MaxZstdWindow, 2L);
//   - the streams are well-formed frame sequences (zstd or skippable
//     frames; standard LZ4 frames without dictionary ids, or skippable
//     frames) that end exactly at the buffer's end;
//
// and, per record batch, the sum of the declared lengths is at most
// MaxBatch. Reading a record batch thus allocates at most its declared
// lengths, one zstd window of at most max(MaxZstdWindow, 2 × its largest
// declared length) and the decoders' block buffers (a few MiB); a small
// corrupt file, at most what its blocks could really expand to. Files written by Arrow's zstd and LZ4 codecs pass: their
// lengths are exact and their frames hold just the buffer.
type Options struct {
	// Compressed allows record-batch bodies compressed with zstd or LZ4
	// frames (Arrow's BodyCompression, BUFFER method).
	Compressed bool
	// MaxBuffer caps a compressed buffer's declared decompressed length
	// (0: DefaultMaxBuffer).
	MaxBuffer int64
	// MaxBatch caps the sum of the declared decompressed lengths of one
	// record batch's buffers (0: DefaultMaxBatch).
	MaxBatch int64
	// MaxRatio, when positive, caps a buffer's declared length at
	// MaxRatio times the length of its compressed stream. 0 sets no
	// ratio beyond what the stream's blocks can hold (about 32768× for
	// zstd RLE blocks): a loss mask or another run-heavy column
	// legitimately compresses by well over 64×.
	MaxRatio int64
	// MaxZstdWindow is the largest window a zstd frame may declare
	// regardless of its buffer's length (0: DefaultMaxZstdWindow); a
	// larger one must be at most twice the buffer's declared length.
	MaxZstdWindow int64
}

func (o Options) withDefaults() Options {
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxZstdWindow <= 0 {
		o.MaxZstdWindow = DefaultMaxZstdWindow
	}
	return o
}

// Check vets the bytes of an Arrow IPC file (the whole file, as mapped)
// before they are given to ipc.NewMappedFileReader. It returns an error
// for files the reader could not survive:
//
//   - a flatbuffer vector (schema fields, a field's children, custom
//     metadata, union type ids, the footer's record batches and
//     dictionaries, a record batch's field nodes, buffers and variadic
//     counts) that overruns its buffer, or a schema nested deeper than
//     32 levels or with more than 65536 fields;
//   - a record batch with fewer field nodes, buffers or variadic buffer
//     counts than its schema needs, or a negative variadic count: the
//     reader indexes these vectors without bounds, reading whatever
//     follows as buffer descriptions or as a count to allocate by;
//   - dictionary-encoded columns and big-endian files, which it refuses
//     outright;
//   - record batches whose metadata lies outside the file;
//   - compressed record-batch bodies unless opts.Compressed, and then
//     compressed buffers outside the rules of Options.
//
// It neither allocates by a count read from the file nor panics: a
// corrupt flatbuffer offset is reported as an error. Data that is not
// an Arrow file at all (no footer) passes, for the reader to refuse.
func Check(data []byte, opts Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt Arrow metadata: %v", r)
		}
	}()
	o := opts.withDefaults()
	const magic, tail = "ARROW1", 10 // footer: …, int32 size, "ARROW1"
	n := len(data)
	if n < 2*len(magic)+tail || string(data[n-len(magic):]) != magic {
		return nil
	}
	size := int(binary.LittleEndian.Uint32(data[n-tail : n-len(magic)]))
	if size <= 0 || size > n-tail {
		return nil
	}
	fb := &fbCheck{buf: data[n-tail-size : n-tail]}
	footer := fb.root()
	if _, cnt := fb.vector(footer, 8, 24); cnt > 0 {
		return errors.New("dictionary-encoded columns are not supported")
	}
	if schema, ok := fb.table(footer, 6); ok {
		// A big-endian file would be byte-swapped in place, in a
		// read-only mapping: a fatal fault.
		if schema.GetInt16Slot(4, 0) != 0 {
			return errors.New("big-endian Arrow files are not supported")
		}
		start, cnt := fb.vector(schema, 6, 4)
		for i := 0; i < cnt; i++ {
			fb.field(fb.at(start, i), 0, true)
		}
		fb.vector(schema, 8, 4)
	}
	// Footer Block structs: int64 offset, int32 metadata length, 4
	// bytes of padding, int64 body length.
	start, cnt := fb.vector(footer, 10, 24)
	for i := 0; i < cnt && fb.err == nil; i++ {
		p := int(start) + 24*i
		off := int64(binary.LittleEndian.Uint64(fb.buf[p:]))
		meta := int64(int32(binary.LittleEndian.Uint32(fb.buf[p+8:])))
		body := int64(binary.LittleEndian.Uint64(fb.buf[p+16:]))
		if off < 0 || meta < 8 || off > int64(n) || meta > int64(n)-off {
			return fmt.Errorf("record batch %d: metadata at %d+%d outside the file", i, off, meta)
		}
		msg := data[off : off+meta]
		if binary.LittleEndian.Uint32(msg) == 0xFFFFFFFF {
			msg = msg[8:]
		} else {
			msg = msg[4:]
		}
		m := &fbCheck{buf: msg}
		t := m.root()
		m.vector(t, 12, 4) // custom metadata
		// Message.header_type 3 is RecordBatch; its header is in slot 2.
		if hdr, ok := m.table(t, 8); ok && t.GetUint8Slot(6, 0) == 3 {
			// The reader takes as many field nodes, buffers and variadic
			// counts as the schema calls for, without looking at the
			// vectors' lengths.
			need := fb.need[0]
			if t.GetInt16Slot(4, 0) >= 4 { // MetadataVersion V5
				need = fb.need[1]
			}
			if err := m.layout(hdr, need); err != nil {
				return fmt.Errorf("record batch %d: %w", i, err)
			}
			if comp, compressed := m.table(hdr, 10); compressed {
				if !o.Compressed {
					return fmt.Errorf("record batch %d: compressed bodies are not supported", i)
				}
				if body < 0 || body > int64(n)-off-meta {
					return fmt.Errorf("record batch %d: body of %d bytes at %d outside the file", i, body, off+meta)
				}
				if err := o.checkBody(m, hdr, comp, data[off+meta:off+meta+body]); err != nil {
					return fmt.Errorf("record batch %d: %w", i, err)
				}
			}
		}
		if m.err != nil {
			return fmt.Errorf("record batch %d: %w", i, m.err)
		}
	}
	return fb.err
}

// layout checks that the RecordBatch hdr holds what loading it takes:
// need's field nodes, variadic counts, and buffers together with the
// variadic buffers those counts add.
func (c *fbCheck) layout(hdr flatbuffers.Table, need layout) error {
	_, nodes := c.vector(hdr, 6, 16)
	_, buffers := c.vector(hdr, 8, 16)
	vstart, variadic := c.vector(hdr, 12, 8)
	if c.err != nil {
		return c.err
	}
	if nodes < need.nodes {
		return fmt.Errorf("%d field nodes, the schema needs %d", nodes, need.nodes)
	}
	if variadic < need.variadic {
		return fmt.Errorf("%d variadic buffer counts, the schema needs %d", variadic, need.variadic)
	}
	total := int64(need.buffers)
	for k := 0; k < need.variadic; k++ {
		n := int64(binary.LittleEndian.Uint64(c.buf[int(vstart)+8*k:]))
		if n < 0 || n > int64(buffers)-total {
			return fmt.Errorf("variadic buffer count %d is %d, with %d buffers", k, n, buffers)
		}
		total += n
	}
	if int64(buffers) < total {
		return fmt.Errorf("%d buffers, the schema needs %d", buffers, total)
	}
	return nil
}

// Arrow's CompressionType values.
const (
	codecLZ4  = 0
	codecZstd = 1
)

// checkBody applies the rules of Options to the buffers of a compressed
// record batch (hdr, in m) whose BodyCompression table is comp.
func (o *Options) checkBody(m *fbCheck, hdr, comp flatbuffers.Table, body []byte) error {
	codec := comp.GetInt8Slot(4, 0)
	if method := comp.GetInt8Slot(6, 0); method != 0 {
		return fmt.Errorf("unknown body compression method %d", method)
	}
	var name string
	switch codec {
	case codecLZ4:
		name = "LZ4"
	case codecZstd:
		name = "zstd"
	default:
		return fmt.Errorf("unknown compression codec %d", codec)
	}
	// Buffer structs: int64 offset, int64 length, within the body.
	start, cnt := m.vector(hdr, 8, 16)
	if m.err != nil {
		return m.err
	}
	var total int64
	for j := 0; j < cnt; j++ {
		p := int(start) + 16*j
		off := int64(binary.LittleEndian.Uint64(m.buf[p:]))
		length := int64(binary.LittleEndian.Uint64(m.buf[p+8:]))
		if length == 0 {
			continue // read as empty, without a decompressor
		}
		if off < 0 || length < 8 || off > int64(len(body)) || length > int64(len(body))-off {
			return fmt.Errorf("buffer %d at %d+%d outside the %d-byte body", j, off, length, len(body))
		}
		declared := int64(binary.LittleEndian.Uint64(body[off:]))
		if declared == -1 {
			continue // stored uncompressed
		}
		stream := body[off+8 : off+length]
		switch {
		case declared < 0:
			return fmt.Errorf("buffer %d declares a decompressed length of %d", j, declared)
		case declared > o.MaxBuffer:
			return fmt.Errorf("buffer %d declares %d decompressed bytes, over the limit of %d", j, declared, o.MaxBuffer)
		case o.MaxRatio > 0 && declared > 0 && (declared-1)/o.MaxRatio >= int64(len(stream)):
			return fmt.Errorf("buffer %d declares %d decompressed bytes from %d, over %d×", j, declared, len(stream), o.MaxRatio)
		case declared > o.MaxBatch-total:
			return fmt.Errorf("buffers 0…%d declare over %d decompressed bytes together, the limit per record batch", j, o.MaxBatch)
		}
		total += declared
		var most int64
		var err error
		if codec == codecZstd {
			most, err = zstdBound(stream, max(o.MaxZstdWindow, 2*min(declared, 1<<60)))
		} else {
			most, err = lz4Bound(stream)
		}
		if err != nil {
			return fmt.Errorf("buffer %d: %w", j, err)
		}
		if declared > most {
			return fmt.Errorf("buffer %d declares %d decompressed bytes, its %s data holds at most %d", j, declared, name, most)
		}
	}
	return nil
}

// zstdBound walks the zstd frames of s (headers and block headers only)
// and returns the most they can decompress to. It refuses a frame whose
// window exceeds maxWindow and anything that is not a sequence of
// well-formed zstd or skippable frames filling s.
func zstdBound(s []byte, maxWindow int64) (int64, error) {
	const (
		frameMagic = 0xFD2FB528
		skipMagic  = 0x184D2A50 // the low 4 bits are free
		maxBlock   = 128 << 10
		minWindow  = 1 << 10
	)
	bad := func(what string, at int) (int64, error) {
		return 0, fmt.Errorf("corrupt zstd data: %s at byte %d of %d", what, at, len(s))
	}
	var total int64
	for p := 0; p < len(s); {
		if len(s)-p < 4 {
			return bad("truncated frame", p)
		}
		magic := binary.LittleEndian.Uint32(s[p:])
		if magic&^0xF == skipMagic {
			if len(s)-p < 8 {
				return bad("truncated skippable frame", p)
			}
			size := int64(binary.LittleEndian.Uint32(s[p+4:]))
			if size > int64(len(s)-p-8) {
				return bad("skippable frame overruns the buffer", p)
			}
			p += 8 + int(size)
			continue
		}
		if magic != frameMagic {
			return bad("no frame magic", p)
		}
		frame := p
		p += 4
		if p >= len(s) {
			return bad("truncated frame header", frame)
		}
		fhd := s[p]
		p++
		single := fhd&0x20 != 0
		if fhd&0x08 != 0 {
			return bad("reserved header bit set", frame)
		}
		var window uint64
		if !single {
			if p >= len(s) {
				return bad("truncated frame header", frame)
			}
			wd := s[p]
			p++
			base := uint64(1) << (10 + wd>>3)
			window = base + base/8*uint64(wd&7)
		}
		p += [4]int{0, 1, 2, 4}[fhd&3] // dictionary id
		fcsSize := [4]int{0, 2, 4, 8}[fhd>>6]
		if fhd>>6 == 0 && single {
			fcsSize = 1
		}
		if p+fcsSize > len(s) {
			return bad("truncated frame header", frame)
		}
		var fcs uint64
		switch fcsSize {
		case 1:
			fcs = uint64(s[p])
		case 2:
			fcs = uint64(binary.LittleEndian.Uint16(s[p:])) + 256
		case 4:
			fcs = uint64(binary.LittleEndian.Uint32(s[p:]))
		case 8:
			fcs = binary.LittleEndian.Uint64(s[p:])
		}
		p += fcsSize
		if single {
			window = max(fcs, minWindow)
		}
		if window > uint64(maxWindow) {
			return 0, fmt.Errorf("zstd frame at byte %d declares a %d-byte window, over the limit of %d", frame, window, maxWindow)
		}
		block := int(min(window, maxBlock))
		var content int64
		for last := false; !last; {
			if len(s)-p < 3 {
				return bad("truncated block header", p)
			}
			bh := uint32(s[p]) | uint32(s[p+1])<<8 | uint32(s[p+2])<<16
			p += 3
			last = bh&1 != 0
			size := int(bh >> 3)
			if size > block {
				return bad("block over the block maximum", p-3)
			}
			switch (bh >> 1) & 3 {
			case 0: // raw
				content += int64(size)
			case 1: // RLE: one byte repeated size times
				content += int64(size)
				size = 1
			case 2: // compressed: at most a block maximum of output
				if size < 2 {
					return bad("compressed block too small", p-3)
				}
				content += int64(block)
			default:
				return bad("reserved block type", p-3)
			}
			if size > len(s)-p {
				return bad("block overruns the buffer", p-3)
			}
			p += size
		}
		if fhd&0x04 != 0 { // content checksum
			if len(s)-p < 4 {
				return bad("truncated checksum", p)
			}
			p += 4
		}
		if fcsSize > 0 && fcs < uint64(content) {
			content = int64(fcs) // the decoder refuses to produce more
		}
		total += content
	}
	return total, nil
}

// lz4Bound walks the LZ4 frames of s (headers and block headers only)
// and returns the most they can decompress to. It refuses anything that
// is not a sequence of well-formed standard or skippable LZ4 frames
// filling s; legacy frames and dictionary ids are refused too.
func lz4Bound(s []byte) (int64, error) {
	const (
		frameMagic = 0x184D2204
		skipMagic  = 0x184D2A50 // the low 4 bits are free
	)
	bad := func(what string, at int) (int64, error) {
		return 0, fmt.Errorf("corrupt LZ4 data: %s at byte %d of %d", what, at, len(s))
	}
	var total int64
	for p := 0; p < len(s); {
		if len(s)-p < 4 {
			return bad("truncated frame", p)
		}
		magic := binary.LittleEndian.Uint32(s[p:])
		if magic&^0xF == skipMagic {
			if len(s)-p < 8 {
				return bad("truncated skippable frame", p)
			}
			size := int64(binary.LittleEndian.Uint32(s[p+4:]))
			if size > int64(len(s)-p-8) {
				return bad("skippable frame overruns the buffer", p)
			}
			p += 8 + int(size)
			continue
		}
		if magic != frameMagic {
			return bad("no frame magic", p)
		}
		frame := p
		p += 4
		if len(s)-p < 3 {
			return bad("truncated frame descriptor", frame)
		}
		flg, bd := s[p], s[p+1]
		if flg>>6 != 1 || flg&0x03 != 0 || bd&0x8F != 0 || (bd>>4)&7 < 4 {
			return bad("unsupported frame descriptor", frame)
		}
		block := 1 << (8 + 2*((bd>>4)&7)) // 64 KiB, 256 KiB, 1 MiB, 4 MiB
		p += 3                            // FLG, BD, header checksum
		if flg&0x08 != 0 {                // content size
			if len(s)-p < 8 {
				return bad("truncated frame descriptor", frame)
			}
			p += 8
		}
		sums := 0
		if flg&0x10 != 0 { // block checksums
			sums = 4
		}
		for {
			if len(s)-p < 4 {
				return bad("truncated block header", p)
			}
			x := binary.LittleEndian.Uint32(s[p:])
			p += 4
			if x == 0 { // end mark
				break
			}
			size := int(x & 0x7FFFFFFF)
			if size > block {
				return bad("block over the block maximum", p-4)
			}
			if x&0x80000000 != 0 {
				total += int64(size) // stored uncompressed
			} else {
				total += int64(block)
			}
			if size+sums > len(s)-p {
				return bad("block overruns the buffer", p-4)
			}
			p += size + sums
		}
		if flg&0x04 != 0 { // content checksum
			if len(s)-p < 4 {
				return bad("truncated checksum", p)
			}
			p += 4
		}
	}
	return total, nil
}

// fbCheck walks one flatbuffer, remembering the first error.
type fbCheck struct {
	buf   []byte
	err   error
	nodes int
	need  [2]layout // per record batch, before V5 and from V5
}

func (c *fbCheck) root() flatbuffers.Table {
	return flatbuffers.Table{Bytes: c.buf, Pos: flatbuffers.GetUOffsetT(c.buf)}
}

// table returns the sub-table in slot vt of t, if present.
func (c *fbCheck) table(t flatbuffers.Table, vt flatbuffers.VOffsetT) (flatbuffers.Table, bool) {
	o := flatbuffers.UOffsetT(t.Offset(vt))
	if o == 0 {
		return flatbuffers.Table{}, false
	}
	return flatbuffers.Table{Bytes: c.buf, Pos: t.Indirect(o + t.Pos)}, true
}

// vector returns the start and length of the vector in slot vt of t (0, 0
// when absent), recording an error when its elem-byte elements overrun the
// buffer.
func (c *fbCheck) vector(t flatbuffers.Table, vt flatbuffers.VOffsetT, elem int) (flatbuffers.UOffsetT, int) {
	o := flatbuffers.UOffsetT(t.Offset(vt))
	if o == 0 {
		return 0, 0
	}
	start, cnt := t.Vector(o), t.VectorLen(o)
	if cnt < 0 || int(start) > len(c.buf) || cnt > (len(c.buf)-int(start))/elem {
		if c.err == nil {
			c.err = fmt.Errorf("a vector of %d elements overruns its %d-byte buffer", cnt, len(c.buf))
		}
		return 0, 0
	}
	return start, cnt
}

// at returns element i of a vector of tables.
func (c *fbCheck) at(start flatbuffers.UOffsetT, i int) flatbuffers.Table {
	t := flatbuffers.Table{Bytes: c.buf}
	t.Pos = t.Indirect(start + flatbuffers.UOffsetT(4*i))
	return t
}

// field checks a schema Field: its children (recursively), metadata and
// union type ids, and tallies the field nodes, buffers and variadic
// counts the Arrow reader consumes loading it (when counted: the children
// of types it does not load as nested are walked uncounted).
func (c *fbCheck) field(t flatbuffers.Table, depth int, counted bool) {
	c.nodes++
	if depth > 32 || c.nodes > 1<<16 {
		if c.err == nil {
			c.err = errors.New("schema nested too deeply")
		}
		return
	}
	if _, ok := c.table(t, 12); ok {
		// Also refused by the footer's dictionaries; a dictionary field
		// loads its index type rather than its children.
		if c.err == nil {
			c.err = errors.New("dictionary-encoded columns are not supported")
		}
		return
	}
	typ := t.GetUint8Slot(8, 0)
	nested := false
	if counted {
		nested = c.tally(t, typ)
	}
	if typ == typeUnion {
		if ut, ok := c.table(t, 10); ok {
			c.vector(ut, 6, 4) // typeIds
		}
	}
	start, cnt := c.vector(t, 14, 4)
	for i := 0; i < cnt && c.err == nil; i++ {
		c.field(c.at(start, i), depth+1, counted && nested)
	}
	c.vector(t, 16, 4)
}

// Arrow's flatbuffer Type union tags.
const (
	typeNull          = 1
	typeInt           = 2
	typeFloatingPoint = 3
	typeBinary        = 4
	typeUtf8          = 5
	typeBool          = 6
	typeDecimal       = 7
	typeDate          = 8
	typeTime          = 9
	typeTimestamp     = 10
	typeInterval      = 11
	typeList          = 12
	typeStruct        = 13
	typeUnion         = 14
	typeFixedSizeBin  = 15
	typeFixedSizeList = 16
	typeMap           = 17
	typeDuration      = 18
	typeLargeBinary   = 19
	typeLargeUtf8     = 20
	typeLargeList     = 21
	typeRunEndEncoded = 22
	typeBinaryView    = 23
	typeUtf8View      = 24
	typeListView      = 25
	typeLargeListView = 26
)

// layout counts what loading a record batch consumes from its message:
// field nodes, buffers (slots, whether read or skipped) and variadic
// buffer counts.
type layout struct{ nodes, buffers, variadic int }

// tally adds the field node, buffers and variadic counts that arrow-go's
// loader consumes for one field of type typ, for metadata versions before
// V5 (need[0]) and from V5 (need[1]), which differ in whether unions and
// run-end-encoded arrays have a validity slot. It reports whether the
// loader descends into the field's children.
func (c *fbCheck) tally(t flatbuffers.Table, typ byte) (nested bool) {
	add := func(buffers, v5buffers int) {
		c.need[0].nodes++
		c.need[1].nodes++
		c.need[0].buffers += buffers
		c.need[1].buffers += v5buffers
	}
	switch typ {
	case typeNull:
		add(0, 0)
	case typeInt, typeFloatingPoint, typeBool, typeDecimal, typeDate, typeTime,
		typeTimestamp, typeInterval, typeDuration, typeFixedSizeBin:
		add(2, 2)
	case typeBinary, typeUtf8, typeLargeBinary, typeLargeUtf8:
		add(3, 3)
	case typeBinaryView, typeUtf8View:
		add(2, 2) // plus the variadic data buffers, counted per batch
		c.need[0].variadic++
		c.need[1].variadic++
	case typeList, typeLargeList, typeMap:
		add(2, 2)
		return true
	case typeListView, typeLargeListView:
		add(3, 3)
		return true
	case typeFixedSizeList, typeStruct:
		add(1, 1)
		return true
	case typeUnion:
		n := 1 // type ids
		if ut, ok := c.table(t, 10); ok && ut.GetInt16Slot(4, 0) == 1 {
			n++ // dense: offsets
		}
		add(1+n, n)
		return true
	case typeRunEndEncoded:
		add(1, 0)
		return true
	}
	// Other tags: the reader refuses the schema before any batch.
	return false
}
