package arrowcheck

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"
)

// typeCases are columns of every type arrow-go writes, as JSON.
var typeCases = []struct {
	dt   arrow.DataType
	json string
}{
	{arrow.Null, `[null, null, null]`},
	{arrow.FixedWidthTypes.Boolean, `[true, null, false]`},
	{arrow.PrimitiveTypes.Int8, `[1, null, 3]`},
	{arrow.PrimitiveTypes.Uint64, `[1, null, 3]`},
	{arrow.FixedWidthTypes.Float16, `[1.5, null, 3]`},
	{arrow.PrimitiveTypes.Float64, `[1.5, null, 3]`},
	{&arrow.Decimal128Type{Precision: 10, Scale: 2}, `["1.25", null, "3.00"]`},
	{&arrow.Decimal256Type{Precision: 40, Scale: 2}, `["1.25", null, "3.00"]`},
	{arrow.FixedWidthTypes.Date32, `["2024-01-02", null, "2024-03-04"]`},
	{arrow.FixedWidthTypes.Time64ns, `["10:00:00", null, "11:00:00"]`},
	{arrow.FixedWidthTypes.Timestamp_us, `[1, null, 2]`},
	{arrow.FixedWidthTypes.Duration_ms, `[1, null, 3]`},
	{arrow.FixedWidthTypes.MonthDayNanoInterval, `[{"months": 1, "days": 2, "nanoseconds": 3}, null, {"months": 1, "days": 2, "nanoseconds": 3}]`},
	{arrow.BinaryTypes.Binary, `["aGk=", null, ""]`},
	{arrow.BinaryTypes.String, `["hi", null, "there"]`},
	{arrow.BinaryTypes.LargeString, `["hi", null, "there"]`},
	{&arrow.FixedSizeBinaryType{ByteWidth: 2}, `["aGk=", null, "aGk="]`},
	{arrow.BinaryTypes.StringView, `["hi", null, "a string longer than twelve bytes"]`},
	{arrow.BinaryTypes.BinaryView, `["aGk=", null, ""]`},
	{arrow.ListOf(arrow.PrimitiveTypes.Int32), `[[1, 2], null, []]`},
	{arrow.LargeListOf(arrow.BinaryTypes.String), `[["a"], null, []]`},
	{arrow.ListViewOf(arrow.PrimitiveTypes.Int32), `[[1, 2], null, []]`},
	{arrow.LargeListViewOf(arrow.PrimitiveTypes.Int32), `[[1, 2], null, []]`},
	{arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Int16), `[[1, 2], null, [3, 4]]`},
	{arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, arrow.Field{Name: "b", Type: arrow.BinaryTypes.StringView, Nullable: true}),
		`[{"a": 1, "b": "x"}, null, {"a": null, "b": "a string longer than twelve bytes"}]`},
	{arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64), `[[{"key": "a", "value": 1}], null, []]`},
	{arrow.SparseUnionOf([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, {Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, []arrow.UnionTypeCode{0, 1}),
		`[[0, 5], [1, "x"], [0, null]]`},
	{arrow.DenseUnionOf([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true}, {Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, []arrow.UnionTypeCode{0, 1}),
		`[[0, 5], [1, "x"], [0, null]]`},
	{arrow.RunEndEncodedOf(arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String), `["a", "a", null]`},
}

// TestAllTypes writes files with a column of every type (values and
// nulls, in several record batches, plain and compressed): Check accepts
// them all and the reader reads them back, so the layout Check expects
// is the one the reader consumes.
func TestAllTypes(t *testing.T) {
	var fields []arrow.Field
	var cols []arrow.Array
	for i, c := range typeCases {
		a, _, err := array.FromJSON(memory.DefaultAllocator, c.dt, strings.NewReader(c.json))
		if err != nil {
			t.Fatalf("%s: %v", c.dt, err)
		}
		defer a.Release()
		fields = append(fields, arrow.Field{Name: string(rune('a' + i)), Type: c.dt, Nullable: true})
		cols = append(cols, a)
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, cols, 3)
	defer rec.Release()
	for _, opts := range [][]ipc.Option{nil, {ipc.WithZstd()}, {ipc.WithLZ4()}} {
		var out bytes.Buffer
		fw, err := ipc.NewFileWriter(&out, append([]ipc.Option{ipc.WithSchema(schema)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := fw.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		data := out.Bytes()
		if err := Check(data, Options{Compressed: true}); err != nil {
			t.Fatalf("%d options: %v", len(opts), err)
		}
		if rows, err := readAll(t, data); rows != 9 || err != nil {
			t.Fatalf("%d options: %d rows, %v", len(opts), rows, err)
		}
		// The tally is exact: the writer writes as many nodes and
		// buffers as the schema needs.
		n := len(data)
		size := int(binary.LittleEndian.Uint32(data[n-10:]))
		fb := &fbCheck{buf: data[n-10-size : n-10]}
		schema, _ := fb.table(fb.root(), 6)
		start, cnt := fb.vector(schema, 6, 4)
		for i := 0; i < cnt; i++ {
			fb.field(fb.at(start, i), 0, true)
		}
		need := fb.need[1]
		if need.variadic != 3 {
			t.Errorf("%d variadic counts, want 3", need.variadic)
		}
		bstart, bcnt := fb.vector(fb.root(), 10, 24)
		for i := 0; i < bcnt; i++ {
			p := int(bstart) + 24*i
			off := int(binary.LittleEndian.Uint64(fb.buf[p:]))
			meta := int(binary.LittleEndian.Uint32(fb.buf[p+8:]))
			m := &fbCheck{buf: data[off+8 : off+meta]}
			hdr, _ := m.table(m.root(), 8)
			_, nodes := m.vector(hdr, 6, 16)
			_, buffers := m.vector(hdr, 8, 16)
			vs, variadic := m.vector(hdr, 12, 8)
			extra := 0
			for k := 0; k < variadic; k++ {
				extra += int(binary.LittleEndian.Uint64(m.buf[int(vs)+8*k:]))
			}
			if nodes != need.nodes || buffers != need.buffers+extra || variadic != need.variadic {
				t.Errorf("batch %d: %d nodes, %d buffers, %d variadic; the tally says %+v (+%d)", i, nodes, buffers, variadic, need, extra)
			}
			// One buffer or node fewer is refused.
			for _, slot := range []int{6, 8} {
				o := int(flatbuffers.UOffsetT(hdr.Offset(flatbuffers.VOffsetT(slot))) + hdr.Pos)
				vec := o + int(binary.LittleEndian.Uint32(m.buf[o:]))
				bad := bytes.Clone(data)
				at := off + 8 + vec
				binary.LittleEndian.PutUint32(bad[at:], binary.LittleEndian.Uint32(bad[at:])-1)
				if err := Check(bad, Options{Compressed: true}); err == nil || !strings.Contains(err.Error(), "the schema needs") && !strings.Contains(err.Error(), "variadic buffer count") {
					t.Errorf("batch %d, slot %d one short: %v", i, slot, err)
				}
			}
		}
	}
}
