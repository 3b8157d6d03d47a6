package tokenize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/smt-go/smt/pkg/dataset"
	"github.com/smt-go/smt/pkg/prompt"
	"github.com/smt-go/smt/pkg/shards"
)

// batchSize is the number of records handed to a worker at a time.
const batchSize = 256

// maxSkipWarnings is the number of skipped records reported one by one.
const maxSkipWarnings = 10

// item is one usable record on its way through the pipeline.
type item struct {
	rec   prompt.Record
	index int64 // global record index
	eval  bool
}

// batch is a run of consecutive records. Workers fill ex and out, then
// close done; the writer consumes batches in the order they were read.
type batch struct {
	items []item
	ex    []shards.Example
	out   []Outcome
	done  chan struct{}
}

// readStats is what the reader learns about the inputs.
type readStats struct {
	sources []shards.Source
	records int64 // every record, bad ones included
	skipped int64 // malformed records skipped
	usable  int64
}

// pipeline connects the reader, the workers and the writer.
type pipeline struct {
	opt     *Options
	enc     *Encoder
	chooser *evalChooser
	order   chan *batch // batches in input order, to the writer
	work    chan *batch // the same batches, to the workers
	free    chan *batch // consumed batches for reuse
	bytes   atomic.Int64
	warned  int
}

func newPipeline(opt *Options, enc *Encoder, chooser *evalChooser, threads int) *pipeline {
	inflight := 4 * threads
	return &pipeline{opt: opt, enc: enc, chooser: chooser,
		order: make(chan *batch, inflight), work: make(chan *batch, inflight), free: make(chan *batch, inflight+threads+2)}
}

func (p *pipeline) newBatch() *batch {
	select {
	case b := <-p.free:
		b.items = b.items[:0]
		b.done = make(chan struct{})
		return b
	default:
		return &batch{items: make([]item, 0, batchSize), ex: make([]shards.Example, batchSize), out: make([]Outcome, batchSize), done: make(chan struct{})}
	}
}

// send hands b to the writer and the workers.
func (p *pipeline) send(ctx context.Context, b *batch) error {
	select {
	case p.order <- b:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case p.work <- b:
	case <-ctx.Done():
		close(b.done)
		return context.Cause(ctx)
	}
	return nil
}

// worker tokenizes batches until the work channel closes.
func (p *pipeline) worker() {
	for b := range p.work {
		for i := range b.items {
			ex := &b.ex[i]
			b.out[i], _ = p.enc.Encode(b.items[i].rec, ex)
			ex.Record = b.items[i].index
		}
		close(b.done)
	}
}

// read streams every input into batches. It closes the channels when it
// returns.
func (p *pipeline) read(ctx context.Context, st *readStats) error {
	defer close(p.work)
	defer close(p.order)
	b := p.newBatch()
	err := eachRecord(ctx, p.opt, st, &p.bytes, p.warn, func(rec prompt.Record, idx int64) error {
		b.items = append(b.items, item{rec: rec, index: idx, eval: p.chooser.inEval(idx, st.usable)})
		if len(b.items) == batchSize {
			if err := p.send(ctx, b); err != nil {
				return err
			}
			b = p.newBatch()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(b.items) > 0 {
		return p.send(ctx, b)
	}
	return nil
}

// warn reports a skipped record (the first few of them).
func (p *pipeline) warn(err error) {
	p.warned++
	switch {
	case p.warned <= maxSkipWarnings:
		p.opt.Progress.Event("skip", "skipped "+err.Error(), map[string]any{"error": err.Error()})
	case p.warned == maxSkipWarnings+1:
		p.opt.Progress.Event("skip", "more records skipped; not shown (see the summary)", nil)
	}
}

// eachRecord calls fn for every usable record of the inputs, in order,
// with its global index, and fills st (fn sees st.usable as the record's
// ordinal among usable records). Malformed records are skipped and
// counted with opt.SkipBad (warn is told of each), or end the reading.
// bytes tracks the compressed bytes read over all inputs.
func eachRecord(ctx context.Context, opt *Options, st *readStats, bytes *atomic.Int64, warn func(error), fn func(prompt.Record, int64) error) error {
	var base, done int64
	for _, path := range opt.Inputs {
		r, err := dataset.Open(path, dataset.Options{Format: opt.Format})
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, r.Interrupt) // unblock a read in progress
		fail := func(err error) error {
			stop()
			r.Close()
			if cause := context.Cause(ctx); cause != nil {
				return cause
			}
			return err
		}
		for n := 0; ; n++ {
			if n%1024 == 0 {
				if err := context.Cause(ctx); err != nil {
					return fail(err)
				}
			}
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if opt.SkipBad && dataset.IsSkippable(err) {
					st.skipped++
					if warn != nil {
						warn(err)
					}
					continue
				}
				return fail(err)
			}
			if err := fn(rec.Record, base+rec.Index); err != nil {
				return fail(err)
			}
			st.usable++
			if bytes != nil {
				bytes.Store(done + r.BytesRead())
			}
		}
		if !stop() {
			return fail(context.Cause(ctx))
		}
		st.sources = append(st.sources, shards.Source{Path: path, SHA256: r.SHA256(), Records: r.Records()})
		base += r.Records()
		done += r.BytesRead()
		r.Close()
	}
	st.records = base
	if st.usable == 0 {
		return fmt.Errorf("tokenize: no usable records in %d input file(s) (%d malformed records skipped)", len(opt.Inputs), st.skipped)
	}
	return nil
}

// writeAll consumes the batches in order and writes their examples.
func (p *pipeline) writeAll(ctx context.Context, train, eval *shards.Writer, c *shards.Counts, prog *progress) error {
	for b := range p.order {
		select {
		case <-b.done:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		for i := range b.items {
			ex := &b.ex[i]
			switch b.out[i] {
			case Dropped:
				c.Dropped++
				continue
			case Truncated:
				c.Truncated++
			}
			if ex.LossTokens() == 0 {
				c.NoTargets++
			}
			w := train
			if b.items[i].eval {
				w = eval
			}
			if err := w.Write(ex); err != nil {
				return err
			}
			prog.add(len(ex.IDs))
		}
		prog.records(int64(len(b.items)))
		prog.maybeReport(p.bytes.Load())
		select {
		case p.free <- b:
		default:
		}
	}
	return nil
}

// runPipeline runs reader, workers and writer to completion.
func runPipeline(parent context.Context, p *pipeline, threads int, train, eval *shards.Writer, c *shards.Counts, prog *progress) (readStats, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	var st readStats
	var wg sync.WaitGroup
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.read(ctx, &st); err != nil {
			readErr = err
			cancel(err)
		}
	}()
	for range threads {
		wg.Add(1)
		go func() { defer wg.Done(); p.worker() }()
	}
	werr := p.writeAll(ctx, train, eval, c, prog)
	if werr != nil {
		cancel(werr)
		for b := range p.order { // let the reader finish
			_ = b
		}
	}
	wg.Wait()
	switch {
	case readErr != nil && !errors.Is(readErr, werr):
		return st, readErr
	case werr != nil:
		return st, werr
	}
	if err := context.Cause(parent); err != nil {
		return st, err
	}
	return st, nil
}
