package comm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// The TCP protocol: every message is a frame, a 24-byte header (all
// integers little-endian) and a payload:
//
//	magic   uint32  "SMTC"
//	kind    uint8   a kind constant
//	dtype   uint8   element type of a sum (wireF32, wireF64) or a check
//	_       uint16  zero
//	seq     uint64  the collective's number on this communicator
//	count   uint64  payload elements (sums, broadcasts) or bytes (messages)
//
// Payloads of sums are the values, little-endian; hello is a fixed record
// followed by the host name; reject and abort carry a UTF-8 message.
const (
	wireMagic   uint32 = 0x43544d53
	wireVersion uint32 = 1
	headerSize         = 24
	maxMessage         = 1 << 16 // hello, reject and abort payloads
	chunkBytes         = 1 << 20 // values are encoded through buffers of this size
)

// header is a frame's header.
type header struct {
	kind  kind
	dtype uint8
	seq   uint64
	count uint64
}

func headerOf(o op) header { return header{kind: o.kind, dtype: o.dtype, seq: o.seq, count: o.count} }

func (h header) op() op { return op{kind: h.kind, dtype: h.dtype, seq: h.seq, count: h.count} }

// errBadMagic means the other end does not speak this protocol.
var errBadMagic = errors.New("not an smt comm frame (bad magic)")

func writeHeader(w io.Writer, h header) error {
	var b [headerSize]byte
	binary.LittleEndian.PutUint32(b[0:], wireMagic)
	b[4], b[5] = byte(h.kind), h.dtype
	binary.LittleEndian.PutUint64(b[8:], h.seq)
	binary.LittleEndian.PutUint64(b[16:], h.count)
	_, err := w.Write(b[:])
	return err
}

func readHeader(r io.Reader) (header, error) {
	var b [headerSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return header{}, err
	}
	if binary.LittleEndian.Uint32(b[0:]) != wireMagic {
		return header{}, errBadMagic
	}
	return header{kind: kind(b[4]), dtype: b[5], seq: binary.LittleEndian.Uint64(b[8:]), count: binary.LittleEndian.Uint64(b[16:])}, nil
}

// writeMessage writes a frame whose payload is msg (truncated to
// maxMessage bytes).
func writeMessage(w io.Writer, k kind, msg string) error {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	if err := writeHeader(w, header{kind: k, count: uint64(len(msg))}); err != nil {
		return err
	}
	_, err := io.WriteString(w, msg)
	return err
}

// readMessage reads the payload of a message frame whose header is h.
func readMessage(r io.Reader, h header) (string, error) {
	if h.count > maxMessage {
		return "", fmt.Errorf("message of %d bytes (at most %d)", h.count, maxMessage)
	}
	b := make([]byte, h.count)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// hello is what a rank tells rank 0 when it connects.
type hello struct {
	version           uint32
	rank, size, local uint32
	mode              uint8
	host              string
}

const helloFixed = 17

func writeHello(w io.Writer, h hello) error {
	host := h.host
	if len(host) > 255 {
		host = host[:255]
	}
	b := make([]byte, helloFixed+len(host))
	binary.LittleEndian.PutUint32(b[0:], h.version)
	binary.LittleEndian.PutUint32(b[4:], h.rank)
	binary.LittleEndian.PutUint32(b[8:], h.size)
	binary.LittleEndian.PutUint32(b[12:], h.local)
	b[16] = h.mode
	copy(b[helloFixed:], host)
	if err := writeHeader(w, header{kind: kindHello, count: uint64(len(b))}); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readHello(r io.Reader) (hello, error) {
	h, err := readHeader(r)
	if err != nil {
		return hello{}, err
	}
	if h.kind != kindHello || h.count < helloFixed || h.count > helloFixed+255 {
		return hello{}, fmt.Errorf("expected a hello frame, got kind %d of %d bytes", h.kind, h.count)
	}
	b := make([]byte, h.count)
	if _, err := io.ReadFull(r, b); err != nil {
		return hello{}, err
	}
	return hello{
		version: binary.LittleEndian.Uint32(b[0:]),
		rank:    binary.LittleEndian.Uint32(b[4:]),
		size:    binary.LittleEndian.Uint32(b[8:]),
		local:   binary.LittleEndian.Uint32(b[12:]),
		mode:    b[16],
		host:    string(b[helloFixed:]),
	}, nil
}

// writeF32 writes v little-endian.
func writeF32(w io.Writer, v []float32) error {
	buf := make([]byte, min(len(v)*4, chunkBytes))
	for len(v) > 0 {
		k := min(len(v), chunkBytes/4)
		for i, x := range v[:k] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
		}
		if _, err := w.Write(buf[:4*k]); err != nil {
			return err
		}
		v = v[k:]
	}
	return nil
}

// readF32 reads len(dst) values into dst, or adds them to dst when add.
func readF32(r io.Reader, dst []float32, add bool) error {
	buf := make([]byte, min(len(dst)*4, chunkBytes))
	for len(dst) > 0 {
		k := min(len(dst), chunkBytes/4)
		if _, err := io.ReadFull(r, buf[:4*k]); err != nil {
			return err
		}
		d := dst[:k]
		if add {
			for i := range d {
				d[i] += math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
		} else {
			for i := range d {
				d[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
		}
		dst = dst[k:]
	}
	return nil
}

// writeF64 writes v little-endian.
func writeF64(w io.Writer, v []float64) error {
	buf := make([]byte, min(len(v)*8, chunkBytes))
	for len(v) > 0 {
		k := min(len(v), chunkBytes/8)
		for i, x := range v[:k] {
			binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(x))
		}
		if _, err := w.Write(buf[:8*k]); err != nil {
			return err
		}
		v = v[k:]
	}
	return nil
}

// readF64 reads len(dst) values into dst, or adds them to dst when add.
func readF64(r io.Reader, dst []float64, add bool) error {
	buf := make([]byte, min(len(dst)*8, chunkBytes))
	for len(dst) > 0 {
		k := min(len(dst), chunkBytes/8)
		if _, err := io.ReadFull(r, buf[:8*k]); err != nil {
			return err
		}
		d := dst[:k]
		if add {
			for i := range d {
				d[i] += math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
			}
		} else {
			for i := range d {
				d[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
			}
		}
		dst = dst[k:]
	}
	return nil
}
