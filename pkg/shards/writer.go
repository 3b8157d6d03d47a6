package shards

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/smt-go/smt/pkg/atomicfile"
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// ShardRecords is the most records per shard (default 100000).
	ShardRecords int
	// BatchRecords is the number of records per Arrow record batch
	// (default 4096).
	BatchRecords int
	// Uncompressed writes shards without zstd (they are then read without
	// copies through mmap).
	Uncompressed bool
	// Metadata is added to every shard's schema metadata.
	Metadata map[string]string
}

// Writer streams examples of one split into shard files. Each shard is
// written under a temporary name and renamed when complete; Abort removes
// everything this writer created.
type Writer struct {
	dir, split string
	opt        WriterOptions
	schema     *arrow.Schema

	cur     *atomicfile.File
	fw      *ipc.FileWriter
	inShard int
	bld     *array.RecordBuilder
	pending int

	info    SplitInfo
	written []string // committed shard paths
	closed  bool     // Close succeeded: Abort no longer removes anything
}

// NewWriter starts writing shards of split into dir (which must exist).
func NewWriter(dir, split string, opt WriterOptions) *Writer {
	if opt.ShardRecords <= 0 {
		opt.ShardRecords = 100000
	}
	if opt.BatchRecords <= 0 {
		opt.BatchRecords = 4096
	}
	keys := []string{"smt.format", "smt.split"}
	vals := []string{Format, split}
	for k, v := range opt.Metadata {
		keys = append(keys, k)
		vals = append(vals, v)
	}
	md := arrow.NewMetadata(keys, vals)
	schema := arrow.NewSchema(Schema.Fields(), &md)
	return &Writer{dir: dir, split: split, opt: opt, schema: schema,
		bld: array.NewRecordBuilder(memory.DefaultAllocator, schema)}
}

// Write appends one example.
func (w *Writer) Write(ex *Example) error {
	if len(ex.IDs) != len(ex.Mask) {
		return fmt.Errorf("shards: record %d: %d ids but %d mask values", ex.Record, len(ex.IDs), len(ex.Mask))
	}
	ids := w.bld.Field(0).(*array.ListBuilder)
	ids.Append(true)
	ids.ValueBuilder().(*array.Int32Builder).AppendValues(ex.IDs, nil)
	mask := w.bld.Field(1).(*array.ListBuilder)
	mask.Append(true)
	mask.ValueBuilder().(*array.Uint8Builder).AppendValues(ex.Mask, nil)
	w.bld.Field(2).(*array.Int64Builder).Append(ex.Record)
	w.pending++
	w.info.Records++
	w.info.Tokens += int64(len(ex.IDs))
	w.info.LossTokens += int64(ex.LossTokens())
	w.info.MaxLen = max(w.info.MaxLen, len(ex.IDs))
	if w.pending >= w.opt.BatchRecords || w.inShard+w.pending >= w.opt.ShardRecords {
		return w.flush()
	}
	return nil
}

// flush writes the pending records as one record batch, opening and
// closing shards as needed.
func (w *Writer) flush() error {
	if w.pending == 0 {
		return nil
	}
	if w.fw == nil {
		name := ShardName(w.split, len(w.written))
		f, err := atomicfile.Create(filepath.Join(w.dir, name))
		if err != nil {
			return err
		}
		opts := []ipc.Option{ipc.WithSchema(w.schema)}
		if !w.opt.Uncompressed {
			opts = append(opts, ipc.WithZstd())
		}
		fw, err := ipc.NewFileWriter(f, opts...)
		if err != nil {
			f.Abort()
			return fmt.Errorf("shards: %s: %w", name, err)
		}
		w.cur, w.fw, w.inShard = f, fw, 0
	}
	rec := w.bld.NewRecordBatch()
	defer rec.Release()
	if err := w.fw.Write(rec); err != nil {
		return fmt.Errorf("shards: %s: %w", w.cur.Path(), err)
	}
	w.inShard += w.pending
	w.pending = 0
	if w.inShard >= w.opt.ShardRecords {
		return w.closeShard()
	}
	return nil
}

func (w *Writer) closeShard() error {
	if w.fw == nil {
		return nil
	}
	if err := w.fw.Close(); err != nil {
		path := w.cur.Path()
		w.cur.Abort()
		w.fw, w.cur = nil, nil
		return fmt.Errorf("shards: %s: %w", path, err)
	}
	if err := w.cur.Commit(); err != nil {
		w.fw, w.cur = nil, nil
		return err
	}
	w.written = append(w.written, w.cur.Path())
	w.fw, w.cur = nil, nil
	return nil
}

// Close writes what is pending, closes the last shard and returns the
// split's description (shard names relative to the directory).
func (w *Writer) Close() (SplitInfo, error) {
	defer w.bld.Release()
	if err := w.flush(); err != nil {
		w.Abort()
		return SplitInfo{}, err
	}
	if err := w.closeShard(); err != nil {
		w.Abort()
		return SplitInfo{}, err
	}
	info := w.info
	for _, p := range w.written {
		info.Shards = append(info.Shards, filepath.Base(p))
	}
	w.closed = true
	return info, nil
}

// Abort removes the shard being written and every shard already committed
// by this writer. After a successful Close it does nothing, so `defer
// w.Abort()` is always safe.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	if w.cur != nil {
		w.cur.Abort()
		w.fw, w.cur = nil, nil
	}
	for _, p := range w.written {
		os.Remove(p)
	}
	w.written = nil
}

// ShardName returns the name of shard i of a split.
func ShardName(split string, i int) string {
	return fmt.Sprintf("%s-%05d.arrow", split, i)
}
