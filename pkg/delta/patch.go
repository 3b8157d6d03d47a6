package delta

import (
	"bytes"
	"io"

	"github.com/smt-go/smt/pkg/safetensors"
)

// bandReader yields a base tensor's bytes with the delta's blocks written
// in. It works one band of S rows at a time: bands without blocks are
// served straight from the base (a view of the mapped file), the others are
// copied into a buffer of S rows and patched there, so memory stays at one
// band whatever the tensor's size.
type bandReader struct {
	src      []byte // the base tensor's bytes
	p        *patch
	s        int // block size
	es       int // bytes per element
	bandSize int // bytes of one band: S rows
	band     int // next band to serve
	buf      []byte
	enc      []byte // one block row, encoded
	pending  []byte // what is left of the current band
	changed  int64  // elements whose stored bits differ from the base
}

func newBandReader(src []byte, p *patch, s int) *bandReader {
	es := p.dtype.Size()
	return &bandReader{src: src, p: p, s: s, es: es, bandSize: s * p.cols * es, enc: make([]byte, s*es)}
}

// Read implements io.Reader.
func (r *bandReader) Read(out []byte) (int, error) {
	if len(r.pending) == 0 {
		if r.band*r.bandSize >= len(r.src) {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(out, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// next prepares the next band.
func (r *bandReader) next() error {
	band := r.src[r.band*r.bandSize : (r.band+1)*r.bandSize]
	blocks := r.p.bands[r.band]
	r.band++
	if len(blocks) == 0 {
		r.pending = band
		return nil
	}
	if r.buf == nil {
		r.buf = make([]byte, r.bandSize)
	}
	copy(r.buf, band)
	s, es, rowBytes := r.s, r.es, r.p.cols*r.es
	for _, b := range blocks {
		vals := r.p.m.Block(b, s)
		col := int(r.p.m.Cols[b]) * s * es
		for y := range s {
			if err := safetensors.EncodeFloat32(r.enc, vals[y*s:(y+1)*s], r.p.dtype); err != nil {
				return err
			}
			dst := r.buf[y*rowBytes+col : y*rowBytes+col+s*es]
			r.changed += countDiff(dst, r.enc, es)
			copy(dst, r.enc)
		}
	}
	r.pending = r.buf
	return nil
}

// countDiff returns the number of es-byte elements that differ between a
// and b.
func countDiff(a, b []byte, es int) int64 {
	if bytes.Equal(a, b) {
		return 0
	}
	var n int64
	for i := 0; i < len(a); i += es {
		if !bytes.Equal(a[i:i+es], b[i:i+es]) {
			n++
		}
	}
	return n
}
