package arrowcheck

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// readBudget is the most the Arrow reader may allocate reading a small
// fuzzed file that Check accepted: far above what the seeds need, far
// below what a trusted corrupt length or window would cost.
const readBudget = 128 << 20

// FuzzCheck feeds mutated Arrow files (plain, zstd, LZ4) to Check with
// and without compression allowed. Check must return, without
// allocating; and whatever it accepts must go through the Arrow reader,
// on a read-only mapping as in the project's readers, without a fatal
// error and within readBudget.
func FuzzCheck(f *testing.F) {
	for _, opts := range [][]ipc.Option{nil, {ipc.WithZstd()}, {ipc.WithLZ4()}} {
		b := writeFile(f, 12, 5, 20, opts...)
		f.Add(b)
		f.Add(b[:len(b)/2])
		if opts != nil {
			s := compressedBuffers(f, b)[1]
			c := bytes.Clone(b)
			binary.LittleEndian.PutUint64(c[s.off:], 1<<40)
			f.Add(c)
		}
	}
	f.Add([]byte("ARROW1\x00\x00ARROW1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var errs [2]error
		allocs := testing.AllocsPerRun(1, func() {
			errs[0] = Check(data, Options{})
			errs[1] = Check(data, Options{Compressed: true})
		})
		// A refusal allocates its error (and a recovered panic its
		// message): a handful of allocations, never by a count.
		if allocs > 40 {
			t.Fatalf("Check allocated %v times", allocs)
		}
		if errs[0] == nil && errs[1] != nil {
			t.Fatalf("allowing compression refused a file: %v", errs[1])
		}
		if errs[1] != nil {
			return
		}
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		readAll(t, data)
		runtime.ReadMemStats(&b)
		if got := b.TotalAlloc - a.TotalAlloc; got > readBudget {
			t.Fatalf("the reader allocated %d bytes for a %d-byte file", got, len(data))
		}
	})
}

// FuzzStreams feeds arbitrary bytes to the zstd and LZ4 walkers, which
// run without Check's recover: they must not panic, and a bound they
// return must be what the frames can hold.
func FuzzStreams(f *testing.F) {
	raw := zblock{0, 5, []byte("hello")}
	f.Add(zstdFrame(0x00, 0x00, nil, raw, zblock{1, 1000, []byte{'x'}}))
	f.Add(zstdFrame(0x64, 0, []byte{0, 1}, zblock{2, 2, []byte{0, 0}}, raw))
	f.Add(append([]byte{0x5A, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 9, 9}, zstdFrame(0xE0, 0, make([]byte, 8), raw)...))
	f.Add([]byte{0x04, 0x22, 0x4D, 0x18, 0x5C, 0x40, 0, 3, 0, 0, 0x80, 1, 2, 3, 1, 2, 3, 4, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Add([]byte{0x04, 0x22, 0x4D, 0x18, 0x48, 0x70, 0, 1, 2, 3, 4, 5, 6, 7, 8, 3, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, s []byte) {
		if most, err := zstdBound(s, DefaultMaxZstdWindow); err == nil && most > int64(len(s))*(128<<10) {
			t.Fatalf("zstd bound %d for %d bytes", most, len(s))
		}
		if most, err := lz4Bound(s); err == nil && most > int64(len(s))*(4<<20) {
			t.Fatalf("lz4 bound %d for %d bytes", most, len(s))
		}
	})
}
