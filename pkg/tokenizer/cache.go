package tokenizer

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"
)

// wordCache is a lock-free direct-mapped cache from a chunk of text (a
// normalized SentencePiece chunk or a pre-tokenized word) to its ids. A
// hit costs one hash and one string compare and allocates nothing; a
// store replaces whatever occupied the slot.
type wordCache struct {
	slots []atomic.Pointer[cacheEntry]
	mask  uint64
	seed  maphash.Seed
}

type cacheEntry struct {
	key string
	ids []int32
}

// maxCachedLen is the longest chunk (in bytes) that is cached.
const maxCachedLen = 48

func newWordCache(bits uint) *wordCache {
	n := 1 << bits
	return &wordCache{slots: make([]atomic.Pointer[cacheEntry], n), mask: uint64(n - 1), seed: maphash.MakeSeed()}
}

func (c *wordCache) get(key string) ([]int32, uint64, bool) {
	h := maphash.String(c.seed, key)
	e := c.slots[h&c.mask].Load()
	if e != nil && e.key == key {
		return e.ids, h, true
	}
	return nil, h, false
}

func (c *wordCache) put(h uint64, key string, ids []int32) {
	e := &cacheEntry{key: strings.Clone(key), ids: slices.Clone(ids)}
	c.slots[h&c.mask].Store(e)
}
