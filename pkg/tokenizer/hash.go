package tokenizer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"sort"
)

// Hash returns the hex SHA-256 of the tokenizer's canonical form: kind,
// every piece with its type and score, the merge table in rank order
// (tokenizer.json), the added tokens, the normalization and decoding
// flags, the special ids and the BOS/EOS policy. Two tokenizers with the
// same hash encode and decode alike; a tokenizer.model and the llama2.c
// tokenizer.bin exported from it hash the same. Record it in output files
// for provenance.
func (t *Tokenizer) Hash() string {
	t.hashOnce.Do(func() { t.hash = t.computeHash() })
	return t.hash
}

func (t *Tokenizer) computeHash() string {
	h := sha256.New()
	var buf [8]byte
	u32 := func(v uint32) {
		binary.LittleEndian.PutUint32(buf[:4], v)
		h.Write(buf[:4])
	}
	str := func(s string) {
		u32(uint32(len(s)))
		h.Write([]byte(s))
	}
	flag := func(b bool) {
		if b {
			u32(1)
		} else {
			u32(0)
		}
	}
	str("smt-go tokenizer v1")
	u32(uint32(t.kind))
	u32(uint32(len(t.pieces)))
	for i, p := range t.pieces {
		str(p)
		u32(uint32(t.types[i]))
		u32(math.Float32bits(t.scores[i]))
	}
	if !t.m.spMode {
		type pr struct {
			l, r int32
			e    mergeEntry
		}
		ps := make([]pr, 0, len(t.m.pairs))
		for k, e := range t.m.pairs {
			ps = append(ps, pr{int32(k >> 32), int32(uint32(k)), e})
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].e.rank < ps[j].e.rank })
		u32(uint32(len(ps)))
		for _, p := range ps {
			u32(uint32(p.l))
			u32(uint32(p.r))
		}
	}
	u32(uint32(len(t.added)))
	for _, a := range t.added {
		u32(uint32(a.ID))
		str(a.Content)
		flag(a.Special)
		flag(a.LStrip)
		flag(a.RStrip)
		flag(a.SingleWord)
	}
	for _, b := range []bool{t.addDummyPrefix, t.removeExtraWS, t.escapeWS, t.metaspace, t.metaspaceSplit,
		t.stripDecode, t.byteFallback, t.fuseUnk, t.ignoreMerges, t.AddsBOS(), t.AddsEOS()} {
		flag(b)
	}
	u32(uint32(t.prepend))
	for _, id := range []int32{t.unk, t.bos, t.eos, t.pad} {
		u32(uint32(id))
	}
	str(t.unkSurface)
	return hex.EncodeToString(h.Sum(nil))
}
