package scores

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/smt-go/smt/pkg/arrowcheck"
	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/mmapfile"
)

// Write writes blocks to path atomically (one record batch per tensor, in
// the order given).
func Write(path string, meta Meta, blocks []Block) error {
	md := meta.Encode()
	schema := arrow.NewSchema(Schema.Fields(), &md)
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		return fmt.Errorf("scores: %s: %w", path, err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	flush := func() error {
		if b.Field(0).Len() == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		return w.Write(rec)
	}
	for i := range blocks {
		bl := &blocks[i]
		if i > 0 && bl.Tensor != blocks[i-1].Tensor {
			if err := flush(); err != nil {
				return fmt.Errorf("scores: %s: %w", path, err)
			}
		}
		b.Field(0).(*array.StringBuilder).Append(bl.Tensor)
		b.Field(1).(*array.Int32Builder).Append(int32(bl.Layer))
		b.Field(2).(*array.StringBuilder).Append(bl.Kind)
		b.Field(3).(*array.Int32Builder).Append(int32(bl.Row))
		b.Field(4).(*array.Int32Builder).Append(int32(bl.Col))
		for j, v := range bl.Scores {
			b.Field(5 + j).(*array.Float32Builder).Append(v)
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("scores: %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("scores: %s: %w", path, err)
	}
	return f.Commit()
}

// Read reads a scores file written by Write (or any Arrow IPC file with
// the same schema and metadata). Errors name the file and the row.
func Read(path string) (meta Meta, blocks []Block, err error) {
	mf, err := mmapfile.Open(path)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("scores: %w", err)
	}
	defer mf.Close()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("scores: %s: corrupt Arrow file: %v", path, r)
		}
	}()
	if err := arrowcheck.Check(mf.Data, arrowcheck.Options{}); err != nil {
		return Meta{}, nil, fmt.Errorf("scores: %s: %w", path, err)
	}
	fr, err := ipc.NewMappedFileReader(mf.Data)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("scores: %s: not an Arrow IPC file: %w", path, err)
	}
	defer fr.Close()
	sc := fr.Schema()
	if sc.NumFields() != Schema.NumFields() {
		return Meta{}, nil, fmt.Errorf("scores: %s: %d columns, expected %d", path, sc.NumFields(), Schema.NumFields())
	}
	for i, f := range Schema.Fields() {
		if g := sc.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return Meta{}, nil, fmt.Errorf("scores: %s: column %d is %s %s, expected %s %s", path, i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	if meta, err = DecodeMeta(sc.Metadata()); err != nil {
		return Meta{}, nil, fmt.Errorf("scores: %s: %w", path, err)
	}
	// Strings from the reader point into the mapping, which is closed on
	// return: copy them (once per distinct value).
	intern := map[string]string{}
	str := func(v string) string {
		if c, ok := intern[v]; ok {
			return c
		}
		c := strings.Clone(v)
		intern[c] = c
		return c
	}
	row := 0
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.RecordBatch(i)
		if err != nil {
			return Meta{}, nil, fmt.Errorf("scores: %s: record batch %d: %w", path, i, err)
		}
		cols := rec.Columns()
		for j, c := range cols {
			if c.NullN() > 0 {
				return Meta{}, nil, fmt.Errorf("scores: %s: record batch %d: null values in column %s", path, i, Schema.Field(j).Name)
			}
		}
		tensor, layer, kind := cols[0].(*array.String), cols[1].(*array.Int32), cols[2].(*array.String)
		br, bc := cols[3].(*array.Int32), cols[4].(*array.Int32)
		for r := 0; r < int(rec.NumRows()); r++ {
			bl := Block{Tensor: str(tensor.Value(r)), Layer: int(layer.Value(r)), Kind: str(kind.Value(r)), Row: int(br.Value(r)), Col: int(bc.Value(r))}
			for j := range bl.Scores {
				bl.Scores[j] = cols[5+j].(*array.Float32).Value(r)
			}
			shape, ok := meta.Shapes[bl.Kind]
			if !ok {
				return Meta{}, nil, fmt.Errorf("scores: %s: row %d: kind %q has no shape in the metadata", path, row, bl.Kind)
			}
			if bl.Row < 0 || bl.Col < 0 || (bl.Row+1)*meta.BlockSize > shape[0] || (bl.Col+1)*meta.BlockSize > shape[1] || bl.Layer < 0 || bl.Layer >= max(meta.Layers, 1) {
				return Meta{}, nil, fmt.Errorf("scores: %s: row %d: block (%d, %d) of %s layer %d is outside a %d×%d matrix of %d-blocks", path, row, bl.Row, bl.Col, bl.Kind, bl.Layer, shape[0], shape[1], meta.BlockSize)
			}
			blocks = append(blocks, bl)
			row++
		}
	}
	return meta, blocks, nil
}
