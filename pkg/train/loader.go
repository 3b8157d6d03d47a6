package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/smt-go/smt/pkg/shards"
)

// Source is what the loader reads examples from (shards.Split implements
// it).
type Source interface {
	Len() int
	Get(i int) shards.Example
}

// Batch is one micro-batch: B sequences of T tokens, right-padded.
type Batch struct {
	B, T    int
	IDs     []int32 // [B·T] input ids (padding: PadID)
	Targets []int32 // [B·T] id to predict at each position, −1 where none
	Count   int     // number of targets (≥ 0)
	Tokens  int     // real (non-padding) tokens
}

// Loader cuts a source into micro-batches: a seeded shuffle per epoch
// (epoch e uses the permutation drawn from (seed, e)), B examples per
// micro-batch, padded on the right to the longest example of the batch; or,
// with Pack, examples concatenated into rows of exactly MaxLen tokens.
type Loader struct {
	src    Source
	B      int
	MaxLen int   // longest sequence a batch may hold (the model's limit)
	PadID  int32 // id written into padding positions (never a target)
	Pack   bool
	// Rank and World split the data between data-parallel ranks: each call
	// of Next consumes World·B examples of the shared order (World·B rows
	// when packing) and returns the B of this rank. All ranks must use the
	// same seed. World 0 means 1.
	Rank, World int
	seed        uint64
	perm        []int
	permOf      int
}

// NewLoader checks that every example fits maxLen and returns a loader.
// An example longer than maxLen is an error naming it.
func NewLoader(src Source, B, maxLen int, pack bool, seed uint64) (*Loader, error) {
	if B <= 0 {
		return nil, fmt.Errorf("train: batch size %d must be positive", B)
	}
	if src.Len() == 0 {
		return nil, fmt.Errorf("train: the data has no examples")
	}
	for i := 0; i < src.Len(); i++ {
		ex := src.Get(i)
		if len(ex.IDs) > maxLen {
			return nil, fmt.Errorf("train: example %d (record %d) has %d tokens, longer than the limit of %d (re-tokenize with --max-len %d, or raise the limit)", i, ex.Record, len(ex.IDs), maxLen, maxLen)
		}
		if len(ex.IDs) == 0 {
			return nil, fmt.Errorf("train: example %d (record %d) is empty", i, ex.Record)
		}
	}
	return &Loader{src: src, B: B, MaxLen: maxLen, Pack: pack, seed: seed, permOf: -1}, nil
}

// Len is the number of examples.
func (l *Loader) Len() int { return l.src.Len() }

// BatchesPerEpoch is the number of micro-batches in one epoch (the last one
// may be short). With Pack it is an estimate from the token count.
func (l *Loader) BatchesPerEpoch() int {
	per := l.B * max(l.World, 1)
	if !l.Pack {
		return (l.src.Len() + per - 1) / per
	}
	tokens := 0
	for i := 0; i < l.src.Len(); i++ {
		tokens += len(l.src.Get(i).IDs)
	}
	rows := (tokens + l.MaxLen - 1) / l.MaxLen
	return (rows + per - 1) / per
}

// order returns the example order of an epoch.
func (l *Loader) order(epoch int) []int {
	if l.permOf != epoch {
		r := rand.New(rand.NewPCG(l.seed, uint64(epoch)+0x5eed))
		l.perm = r.Perm(l.src.Len())
		l.permOf = epoch
	}
	return l.perm
}

// Pos is a position in the data: the epoch and the next example of its
// order. It is what a checkpoint stores to resume the data exactly.
type Pos struct {
	Epoch int `json:"epoch"`
	Next  int `json:"next"`
}

// Next returns the micro-batch starting at p and the position after it. At
// the end of an epoch it continues with the next one.
func (l *Loader) Next(p Pos) (*Batch, Pos) {
	if p.Next >= l.src.Len() {
		p = Pos{Epoch: p.Epoch + 1}
	}
	ord := l.order(p.Epoch)
	if l.Pack {
		return l.packed(ord, p)
	}
	world := max(l.World, 1)
	end := min(p.Next+world*l.B, len(ord))
	lo, hi := min(p.Next+l.Rank*l.B, end), min(p.Next+(l.Rank+1)*l.B, end)
	exs := make([]shards.Example, 0, hi-lo)
	T := 0
	for _, i := range ord[lo:hi] {
		ex := l.src.Get(i)
		exs = append(exs, ex)
		T = max(T, len(ex.IDs))
	}
	b := newBatch(len(exs), T, l.PadID)
	for r, ex := range exs {
		b.place(r, 0, ex)
	}
	return b, Pos{Epoch: p.Epoch, Next: end}
}

// packed fills B rows of MaxLen tokens with consecutive examples (an
// example that does not fit in the rest of a row starts the next row;
// attention is not blocked between examples of a row).
func (l *Loader) packed(ord []int, p Pos) (*Batch, Pos) {
	world := max(l.World, 1)
	b := newBatch(l.B, l.MaxLen, l.PadID)
	row, col := 0, 0 // row counts over all ranks' rows
	for p.Next < len(ord) {
		ex := l.src.Get(ord[p.Next])
		if col+len(ex.IDs) > l.MaxLen {
			row, col = row+1, 0
			if row == world*l.B {
				break
			}
		}
		if row/l.B == l.Rank {
			b.place(row%l.B, col, ex)
		}
		col += len(ex.IDs)
		p.Next++
	}
	return b, p
}

func newBatch(B, T int, pad int32) *Batch {
	b := &Batch{B: B, T: T, IDs: make([]int32, B*T), Targets: make([]int32, B*T)}
	for i := range b.IDs {
		b.IDs[i] = pad
		b.Targets[i] = -1
	}
	return b
}

// place writes an example at row r from column c: position t predicts
// IDs[t+1] when Mask[t+1] is set.
func (b *Batch) place(r, c int, ex shards.Example) {
	base := r*b.T + c
	copy(b.IDs[base:], ex.IDs)
	b.Tokens += len(ex.IDs)
	for t := 0; t+1 < len(ex.IDs); t++ {
		if ex.Mask[t+1] != 0 {
			b.Targets[base+t] = ex.IDs[t+1]
			b.Count++
		}
	}
}
