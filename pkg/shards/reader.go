package shards

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/smt-go/smt/pkg/arrowcheck"
	"github.com/smt-go/smt/pkg/mmapfile"
)

// batch is one record batch, validated, with its columns unpacked.
type batch struct {
	rec       arrow.RecordBatch
	idOffs    []int32 // [rows+1]
	ids       []int32
	maskOffs  []int32
	mask      []uint8
	records   []int64
	firstGlob int // global index of the batch's first row
}

// Split gives random access to every example of a split's shards. Example
// slices point into the shards (mapped files for uncompressed shards,
// decompressed buffers otherwise) and stay valid until Close.
type Split struct {
	files   []*mmapfile.File
	readers []*ipc.FileReader
	batches []batch
	n       int
	meta    map[string]string
}

// OpenSplit opens the shards of split listed in dir's manifest.
func OpenSplit(dir, split string) (*Split, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	info, ok := m.Splits[split]
	if !ok {
		return nil, fmt.Errorf("shards: %s: the manifest has no %q split", dir, split)
	}
	paths := make([]string, len(info.Shards))
	for i, s := range info.Shards {
		paths[i] = filepath.Join(dir, s)
	}
	s, err := OpenFiles(paths...)
	if err != nil {
		return nil, err
	}
	if int64(s.n) != info.Records {
		s.Close()
		return nil, fmt.Errorf("shards: %s: split %s has %d records, the manifest says %d", dir, split, s.n, info.Records)
	}
	return s, nil
}

// OpenFiles opens shard files directly, in the given order.
func OpenFiles(paths ...string) (*Split, error) {
	s := &Split{}
	for _, p := range paths {
		if err := s.open(p); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Split) open(path string) (err error) {
	mf, err := mmapfile.Open(path)
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	s.files = append(s.files, mf)
	defer func() {
		if r := recover(); r != nil { // the Arrow reader panics on some corrupt files
			err = fmt.Errorf("shards: %s: corrupt Arrow file: %v", path, r)
		}
	}()
	// Shards are zstd-compressed unless written Uncompressed.
	if err := arrowcheck.Check(mf.Data, arrowcheck.Options{Compressed: true}); err != nil {
		return fmt.Errorf("shards: %s: %w", path, err)
	}
	fr, err := ipc.NewMappedFileReader(mf.Data)
	if err != nil {
		return fmt.Errorf("shards: %s: not an Arrow IPC file: %w", path, err)
	}
	s.readers = append(s.readers, fr)
	if err := checkSchema(fr.Schema()); err != nil {
		return fmt.Errorf("shards: %s: %w", path, err)
	}
	if s.meta == nil {
		md := fr.Schema().Metadata()
		s.meta = map[string]string{}
		for i, k := range md.Keys() {
			s.meta[strings.Clone(k)] = strings.Clone(md.Values()[i]) // outlive the mapping
		}
	}
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.RecordBatch(i)
		if err != nil {
			return fmt.Errorf("shards: %s: record batch %d: %w", path, i, err)
		}
		rec.Retain()
		b, err := unpack(rec, s.n)
		if err != nil {
			rec.Release()
			return fmt.Errorf("shards: %s: record batch %d: %w", path, i, err)
		}
		s.batches = append(s.batches, b)
		s.n += int(rec.NumRows())
	}
	return nil
}

func checkSchema(got *arrow.Schema) error {
	want := Schema.Fields()
	if got.NumFields() != len(want) {
		return fmt.Errorf("schema has %d fields, want %d (input_ids, loss_mask, record)", got.NumFields(), len(want))
	}
	for i, f := range want {
		g := got.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return fmt.Errorf("field %d is %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return nil
}

func unpack(rec arrow.RecordBatch, first int) (batch, error) {
	ids, ok1 := rec.Column(0).(*array.List)
	mask, ok2 := rec.Column(1).(*array.List)
	records, ok3 := rec.Column(2).(*array.Int64)
	if !ok1 || !ok2 || !ok3 {
		return batch{}, fmt.Errorf("unexpected column types")
	}
	if ids.NullN() > 0 || mask.NullN() > 0 || records.NullN() > 0 {
		return batch{}, fmt.Errorf("null values")
	}
	idv, ok1 := ids.ListValues().(*array.Int32)
	mv, ok2 := mask.ListValues().(*array.Uint8)
	if !ok1 || !ok2 {
		return batch{}, fmt.Errorf("unexpected list value types")
	}
	b := batch{rec: rec, idOffs: ids.Offsets(), ids: idv.Int32Values(), maskOffs: mask.Offsets(),
		mask: mv.Uint8Values(), records: records.Int64Values(), firstGlob: first}
	rows := int(rec.NumRows())
	if len(b.idOffs) < rows+1 || len(b.maskOffs) < rows+1 || len(b.records) < rows {
		return batch{}, fmt.Errorf("offsets shorter than %d rows", rows)
	}
	for r := 0; r < rows; r++ {
		i0, i1, m0, m1 := b.idOffs[r], b.idOffs[r+1], b.maskOffs[r], b.maskOffs[r+1]
		if i0 < 0 || i1 < i0 || int(i1) > len(b.ids) || m0 < 0 || m1 < m0 || int(m1) > len(b.mask) {
			return batch{}, fmt.Errorf("row %d (record %d): list offsets out of range", r, b.records[r])
		}
		if i1-i0 != m1-m0 {
			return batch{}, fmt.Errorf("row %d (record %d): %d ids but %d mask values", r, b.records[r], i1-i0, m1-m0)
		}
	}
	return b, nil
}

// Len is the number of examples.
func (s *Split) Len() int { return s.n }

// Metadata returns the first shard's schema metadata.
func (s *Split) Metadata() map[string]string { return s.meta }

// Get returns example i (0 ≤ i < Len). The slices must not be modified.
func (s *Split) Get(i int) Example {
	k := sort.Search(len(s.batches), func(j int) bool { return s.batches[j].firstGlob > i }) - 1
	b := &s.batches[k]
	r := i - b.firstGlob
	return Example{
		Record: b.records[r],
		IDs:    b.ids[b.idOffs[r]:b.idOffs[r+1]],
		Mask:   b.mask[b.maskOffs[r]:b.maskOffs[r+1]],
	}
}

// Close releases the shards.
func (s *Split) Close() error {
	for _, b := range s.batches {
		b.rec.Release()
	}
	s.batches = nil
	for _, r := range s.readers {
		r.Close()
	}
	s.readers = nil
	var err error
	for _, f := range s.files {
		if e := f.Close(); e != nil && err == nil {
			err = e
		}
	}
	s.files = nil
	return err
}
