package blocks

import (
	"encoding/binary"
	"errors"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// checkArrowFile guards the Arrow IPC reader against corrupt files that
// would make it allocate by a count read from the file (a field's
// children, custom metadata, the schema's fields: up to 2³² elements, a
// fatal out-of-memory rather than an error), recurse without end or
// write into the read-only mapping. It
// walks the footer's flatbuffers and the record-batch messages and checks
// that every such vector fits inside its buffer. It also refuses
// big-endian files, dictionaries and compressed bodies, which blocks.arrow never uses (a
// compressed buffer declares its own decompressed size). Anything else
// wrong is left to the Arrow reader to report.
func checkArrowFile(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt Arrow metadata: %v", r)
		}
	}()
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
		if o := flatbuffers.UOffsetT(schema.Offset(4)); o != 0 && schema.GetInt16(o+schema.Pos) != 0 {
			return errors.New("big-endian Arrow files are not supported")
		}
		start, cnt := fb.vector(schema, 6, 4)
		for i := 0; i < cnt; i++ {
			fb.field(fb.at(start, i), 0)
		}
		fb.vector(schema, 8, 4)
	}
	start, cnt := fb.vector(footer, 10, 24)
	for i := 0; i < cnt && fb.err == nil; i++ {
		p := int(start) + 24*i
		off := int64(binary.LittleEndian.Uint64(fb.buf[p:]))
		meta := int64(int32(binary.LittleEndian.Uint32(fb.buf[p+8:])))
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
		if hdr, ok := m.table(t, 8); ok && t.GetByte(flatbuffers.UOffsetT(t.Offset(6))+t.Pos) == 3 {
			if _, compressed := m.table(hdr, 10); compressed {
				return fmt.Errorf("record batch %d: compressed bodies are not supported", i)
			}
		}
		if m.err != nil {
			return fmt.Errorf("record batch %d: %w", i, m.err)
		}
	}
	return fb.err
}

// fbCheck walks one flatbuffer, remembering the first error.
type fbCheck struct {
	buf   []byte
	err   error
	nodes int
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

// field checks a schema Field: its children (recursively) and metadata.
func (c *fbCheck) field(t flatbuffers.Table, depth int) {
	c.nodes++
	if depth > 32 || c.nodes > 1<<16 {
		if c.err == nil {
			c.err = errors.New("schema nested too deeply")
		}
		return
	}
	start, cnt := c.vector(t, 14, 4)
	for i := 0; i < cnt && c.err == nil; i++ {
		c.field(c.at(start, i), depth+1)
	}
	c.vector(t, 16, 4)
}
