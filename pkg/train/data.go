package train

import (
	"fmt"

	"github.com/smt-go/smt/pkg/shards"
)

// Data is the train split of a shard directory opened for a run: the
// examples, a loader over them (split by rank when comm is set) and the
// data's hash for provenance.
type Data struct {
	Split  *shards.Split
	Loader *Loader
	Hash   string
}

// OpenData opens dir's train split with micro-batches of B sequences of at
// most maxLen tokens.
func OpenData(dir string, B, maxLen int, pack bool, seed int64, comm Reducer) (*Data, error) {
	hash, err := shards.Hash(dir, "train")
	if err != nil {
		return nil, err
	}
	split, err := shards.OpenSplit(dir, "train")
	if err != nil {
		return nil, err
	}
	l, err := NewLoader(split, B, maxLen, pack, uint64(seed))
	if err != nil {
		split.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if comm != nil {
		l.Rank, l.World = comm.Rank(), comm.Size()
	}
	return &Data{Split: split, Loader: l, Hash: hash}, nil
}

// Close releases the shards.
func (d *Data) Close() error { return d.Split.Close() }
