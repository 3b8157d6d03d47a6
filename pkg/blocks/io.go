package blocks

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/smt-go/smt/pkg/arrowcheck"
	"github.com/smt-go/smt/pkg/atomicfile"
	"github.com/smt-go/smt/pkg/mmapfile"
)

// Write writes entries to path atomically, one record batch per run of
// equal tensor names, in the order given (Select returns them in file
// order). It refuses metadata and entries that Read would refuse.
func Write(path string, meta Meta, entries []Entry) error {
	if err := Check(meta, entries); err != nil {
		return fmt.Errorf("blocks: %s: %w", path, err)
	}
	return writeFile(path, meta.Encode(), entries)
}

// Check validates metadata and entries as Read does. Errors name the
// entry by its index.
func Check(meta Meta, entries []Entry) error {
	if _, err := DecodeMeta(meta.Encode()); err != nil {
		return err
	}
	v := newValidator(meta)
	for i := range entries {
		if err := v.check(&entries[i]); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return v.finish()
}

// writeFile writes entries with the metadata md, unchecked.
func writeFile(path string, md arrow.Metadata, entries []Entry) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("blocks: %w", err)
	}
	defer f.Abort()
	if err := encode(f, md, entries); err != nil {
		return fmt.Errorf("blocks: %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("blocks: %w", err)
	}
	return nil
}

// encode writes an Arrow IPC file of entries to w.
func encode(w io.Writer, md arrow.Metadata, entries []Entry) error {
	schema := arrow.NewSchema(Schema.Fields(), &md)
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema))
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	flush := func() error {
		if b.Field(0).Len() == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		return fw.Write(rec)
	}
	for i := range entries {
		e := &entries[i]
		if i > 0 && e.Tensor != entries[i-1].Tensor {
			if err := flush(); err != nil {
				return err
			}
		}
		b.Field(0).(*array.StringBuilder).Append(e.Tensor)
		b.Field(1).(*array.Int32Builder).Append(int32(e.Layer))
		b.Field(2).(*array.StringBuilder).Append(e.Kind)
		b.Field(3).(*array.Int32Builder).Append(int32(e.Row))
		b.Field(4).(*array.Int32Builder).Append(int32(e.Col))
		b.Field(5).(*array.Float32Builder).Append(e.Score)
		b.Field(6).(*array.Int32Builder).Append(int32(e.Rank))
		b.Field(7).(*array.StringBuilder).Append(e.Pool)
	}
	if err := flush(); err != nil {
		return err
	}
	return fw.Close()
}

// Read reads and validates a blocks file written by Write (or any Arrow
// IPC file with the same schema and metadata). It checks the metadata,
// that every kind is known and scored, that every tensor name matches its
// layer and kind, that every block lies inside its matrix given the shapes
// and block size, that no block appears twice and no rank twice within a
// pool, and that the rows per pool match the metadata's counts. Errors
// name the file and the row (counting from 0 over all record batches).
func Read(path string) (Meta, []Entry, error) {
	mf, err := mmapfile.Open(path)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("blocks: %w", err)
	}
	defer mf.Close()
	meta, entries, err := decode(mf.Data)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("blocks: %s: %w", path, err)
	}
	return meta, entries, nil
}

// decode parses and validates the bytes of a blocks file. The entries'
// strings are copies: data may be unmapped afterwards.
func decode(data []byte) (meta Meta, entries []Entry, err error) {
	defer func() {
		if r := recover(); r != nil {
			meta, entries, err = Meta{}, nil, fmt.Errorf("corrupt Arrow file: %v", r)
		}
	}()
	// Without spare capacity, a corrupt length that reaches past the end
	// fails to slice instead of reading whatever lies beyond.
	data = data[:len(data):len(data)]
	if err := arrowcheck.Check(data, arrowcheck.Options{}); err != nil {
		return Meta{}, nil, err
	}
	fr, err := ipc.NewMappedFileReader(data)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("not an Arrow IPC file: %w", err)
	}
	defer fr.Close()
	sc := fr.Schema()
	if sc.NumFields() != Schema.NumFields() {
		return Meta{}, nil, fmt.Errorf("%d columns, expected %d", sc.NumFields(), Schema.NumFields())
	}
	for i, f := range Schema.Fields() {
		if g := sc.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return Meta{}, nil, fmt.Errorf("column %d is %s %s, expected %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	if meta, err = DecodeMeta(sc.Metadata()); err != nil {
		return Meta{}, nil, err
	}
	// Strings from the reader point into data: copy them (once per
	// distinct value).
	intern := map[string]string{}
	str := func(v string) string {
		if c, ok := intern[v]; ok {
			return c
		}
		c := strings.Clone(v)
		intern[c] = c
		return c
	}
	v := newValidator(meta)
	row := 0
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.RecordBatch(i)
		if err != nil {
			return Meta{}, nil, fmt.Errorf("record batch %d: %w", i, err)
		}
		cols := rec.Columns()
		for j, c := range cols {
			if c.NullN() > 0 {
				return Meta{}, nil, fmt.Errorf("record batch %d: null values in column %s", i, Schema.Field(j).Name)
			}
		}
		tensor, layer, kind := cols[0].(*array.String), cols[1].(*array.Int32), cols[2].(*array.String)
		br, bc, score := cols[3].(*array.Int32), cols[4].(*array.Int32), cols[5].(*array.Float32)
		rank, pool := cols[6].(*array.Int32), cols[7].(*array.String)
		for r := 0; r < int(rec.NumRows()); r++ {
			e := Entry{Tensor: str(tensor.Value(r)), Layer: int(layer.Value(r)), Kind: str(kind.Value(r)),
				Row: int(br.Value(r)), Col: int(bc.Value(r)), Score: score.Value(r), Rank: int(rank.Value(r)), Pool: str(pool.Value(r))}
			if err := v.check(&e); err != nil {
				return Meta{}, nil, fmt.Errorf("row %d: %w", row, err)
			}
			entries = append(entries, e)
			row++
		}
	}
	if err := v.finish(); err != nil {
		return Meta{}, nil, err
	}
	return meta, entries, nil
}

// validator checks entries one by one against the metadata.
type validator struct {
	meta   Meta
	seen   map[blockKey]bool
	ranks  map[rankKey]bool
	counts map[string]int
}

type blockKey struct {
	tensor   string
	row, col int
}

type rankKey struct {
	pool string // the tensor name for PoolMatrix
	rank int
}

func newValidator(m Meta) *validator {
	return &validator{meta: m, seen: map[blockKey]bool{}, ranks: map[rankKey]bool{}, counts: map[string]int{}}
}

func (v *validator) check(e *Entry) error {
	if _, err := KindIndex(e.Kind); err != nil {
		return err
	}
	shape, ok := v.meta.Shapes[e.Kind]
	if !ok {
		return fmt.Errorf("kind %q has no shape in the metadata (scored kinds: %v)", e.Kind, sortedKeys(v.meta.Shapes))
	}
	if e.Layer < 0 || e.Layer >= v.meta.Layers {
		return fmt.Errorf("layer %d outside the model's %d layers", e.Layer, v.meta.Layers)
	}
	if want := TensorName(e.Layer, e.Kind); e.Tensor != want {
		return fmt.Errorf("tensor %q does not match layer %d kind %s (want %s)", e.Tensor, e.Layer, e.Kind, want)
	}
	S := v.meta.BlockSize
	if e.Row < 0 || e.Col < 0 || e.Row >= shape[0]/S || e.Col >= shape[1]/S {
		return fmt.Errorf("block (%d, %d) of %s is outside its %d×%d grid of %d-blocks (%s is %d×%d)",
			e.Row, e.Col, e.Tensor, shape[0]/S, shape[1]/S, S, e.Kind, shape[0], shape[1])
	}
	if math.IsNaN(float64(e.Score)) {
		return fmt.Errorf("block (%d, %d) of %s has a NaN score", e.Row, e.Col, e.Tensor)
	}
	if _, ok := v.meta.Counts[e.Pool]; !ok {
		return fmt.Errorf("pool %q is not one of the metadata's pools %v", e.Pool, sortedKeys(v.meta.Counts))
	}
	k := blockKey{e.Tensor, e.Row, e.Col}
	if v.seen[k] {
		return fmt.Errorf("duplicate block (%d, %d) of %s", e.Row, e.Col, e.Tensor)
	}
	v.seen[k] = true
	rk := rankKey{e.Pool, e.Rank}
	if e.Pool == PoolMatrix {
		rk.pool = e.Tensor
	}
	if e.Rank < 0 {
		return fmt.Errorf("negative rank %d", e.Rank)
	}
	if v.ranks[rk] {
		return fmt.Errorf("rank %d appears twice in pool %s", e.Rank, rk.pool)
	}
	v.ranks[rk] = true
	v.counts[e.Pool]++
	return nil
}

func (v *validator) finish() error {
	for p, n := range v.meta.Counts {
		if v.counts[p] != n {
			return fmt.Errorf("metadata smt.counts gives pool %s %d blocks, the file has %d", p, n, v.counts[p])
		}
	}
	return nil
}
