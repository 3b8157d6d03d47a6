package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// torchRecord is one conversion computed by PyTorch (see testdata/gen_fixture.py).
type torchRecord struct {
	f32, bf16f32, f16f32 uint32
	bf16, f16            uint16
}

type torchSweep struct {
	kind, step, count uint32
	sum               [32]byte
}

func loadTorchFixture(t *testing.T) (string, []torchRecord, []torchSweep) {
	t.Helper()
	data, err := os.ReadFile("testdata/conversions.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("SMTCONV1")) {
		t.Fatal("conversions.bin: bad magic")
	}
	version := string(bytes.TrimRight(data[8:24], "\x00"))
	n := int(binary.LittleEndian.Uint32(data[24:]))
	p := data[28:]
	recs := make([]torchRecord, n)
	for i := range recs {
		r := p[16*i:]
		recs[i] = torchRecord{
			f32:     binary.LittleEndian.Uint32(r),
			bf16:    binary.LittleEndian.Uint16(r[4:]),
			f16:     binary.LittleEndian.Uint16(r[6:]),
			bf16f32: binary.LittleEndian.Uint32(r[8:]),
			f16f32:  binary.LittleEndian.Uint32(r[12:]),
		}
	}
	p = p[16*n:]
	var sweeps []torchSweep
	for len(p) > 0 {
		var s torchSweep
		s.kind = binary.LittleEndian.Uint32(p)
		s.step = binary.LittleEndian.Uint32(p[4:])
		s.count = binary.LittleEndian.Uint32(p[8:])
		copy(s.sum[:], p[12:44])
		sweeps = append(sweeps, s)
		p = p[44:]
	}
	if n < 4000 || len(sweeps) != 3 {
		t.Fatalf("conversions.bin: %d records, %d sweeps; want ≥ 4000 and 3", n, len(sweeps))
	}
	return version, recs, sweeps
}

// TestConversionsMatchTorch checks every scalar and bulk conversion against the
// bits PyTorch gives, record by record.
func TestConversionsMatchTorch(t *testing.T) {
	version, recs, _ := loadTorchFixture(t)
	t.Logf("%d records from torch %s", len(recs), version)
	src := make([]float32, len(recs))
	for i, r := range recs {
		src[i] = math.Float32frombits(r.f32)
	}
	bulkBF := make([]byte, 2*len(src))
	bulkF16 := make([]byte, 2*len(src))
	if err := EncodeFloat32(bulkBF, src, BF16); err != nil {
		t.Fatal(err)
	}
	if err := EncodeFloat32(bulkF16, src, F16); err != nil {
		t.Fatal(err)
	}
	backBF := make([]float32, len(src))
	backF16 := make([]float32, len(src))
	if err := DecodeFloat32(backBF, bulkBF, BF16); err != nil {
		t.Fatal(err)
	}
	if err := DecodeFloat32(backF16, bulkF16, F16); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, r := range recs {
		f := src[i]
		check := func(what string, got, want uint32) {
			if got != want && bad < 20 {
				t.Errorf("%s(%#08x = %g) = %#x, torch gives %#x", what, r.f32, f, got, want)
			}
			if got != want {
				bad++
			}
		}
		check("Float32ToBF16", uint32(Float32ToBF16(f)), uint32(r.bf16))
		check("Float32ToF16", uint32(Float32ToF16(f)), uint32(r.f16))
		check("EncodeFloat32/BF16", uint32(binary.LittleEndian.Uint16(bulkBF[2*i:])), uint32(r.bf16))
		check("EncodeFloat32/F16", uint32(binary.LittleEndian.Uint16(bulkF16[2*i:])), uint32(r.f16))
		check("BF16ToFloat32", math.Float32bits(BF16ToFloat32(r.bf16)), r.bf16f32)
		check("F16ToFloat32", math.Float32bits(F16ToFloat32(r.f16)), r.f16f32)
		check("DecodeFloat32/BF16", math.Float32bits(backBF[i]), r.bf16f32)
		check("DecodeFloat32/F16", math.Float32bits(backF16[i]), r.f16f32)
	}
	if bad > 0 {
		t.Errorf("%d mismatches with torch", bad)
	}
}

// TestConversionSweepsMatchTorch checks every float16 bit pattern, and a
// strided walk over all float32 bit patterns, against hashes of PyTorch's
// results.
func TestConversionSweepsMatchTorch(t *testing.T) {
	_, _, sweeps := loadTorchFixture(t)
	for _, s := range sweeps {
		h := sha256.New()
		var buf [4]byte
		switch s.kind {
		case 1: // f16 -> f32, every pattern, single and bulk
			src := make([]byte, 2*s.count)
			for i := uint32(0); i < s.count; i++ {
				binary.LittleEndian.PutUint16(src[2*i:], uint16(i))
			}
			bulk := make([]float32, s.count)
			if err := DecodeFloat32(bulk, src, F16); err != nil {
				t.Fatal(err)
			}
			for i := uint32(0); i < s.count; i++ {
				f := F16ToFloat32(uint16(i))
				if math.Float32bits(f) != math.Float32bits(bulk[i]) {
					t.Fatalf("F16ToFloat32(%#04x) = %#x, DecodeFloat32 gives %#x", i, math.Float32bits(f), math.Float32bits(bulk[i]))
				}
				u := math.Float32bits(f)
				if f != f {
					u = 0x7fc00000
				}
				binary.LittleEndian.PutUint32(buf[:], u)
				h.Write(buf[:4])
			}
		case 2, 3:
			for i := uint32(0); i < s.count; i++ {
				f := math.Float32frombits(i * s.step)
				var v uint16
				if s.kind == 2 {
					v = Float32ToBF16(f)
					if v&0x7fff > 0x7f80 {
						v = 0x7fc0
					}
				} else {
					v = Float32ToF16(f)
					if v&0x7fff > 0x7c00 {
						v = 0x7e00
					}
				}
				binary.LittleEndian.PutUint16(buf[:], v)
				h.Write(buf[:2])
			}
		default:
			t.Fatalf("unknown sweep kind %d", s.kind)
		}
		if got := h.Sum(nil); !bytes.Equal(got, s.sum[:]) {
			t.Errorf("sweep %d (step %d, %d inputs): sha256 %x, torch gives %x", s.kind, s.step, s.count, got, s.sum)
		}
	}
}

// TestF16ExactRoundTrip: every non-NaN float16 survives float16 → float32 →
// float16, and the float32 value equals the binary16 definition computed in
// float64.
func TestF16ExactRoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToFloat32(h)
		exp, man := int(h>>10)&0x1f, float64(h&0x3ff)
		var want float64
		switch exp {
		case 0:
			want = math.Ldexp(man, -24)
		case 0x1f:
			want = math.Inf(1)
			if man != 0 {
				want = math.NaN()
			}
		default:
			want = math.Ldexp(1+man/1024, exp-15)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if math.IsNaN(want) {
			if f == f {
				t.Fatalf("F16ToFloat32(%#04x) = %g, want NaN", h, f)
			}
			continue
		}
		if float64(f) != want || math.Signbit(float64(f)) != math.Signbit(want) {
			t.Fatalf("F16ToFloat32(%#04x) = %g, want %g", h, f, want)
		}
		if back := Float32ToF16(f); back != h {
			t.Fatalf("Float32ToF16(F16ToFloat32(%#04x)) = %#04x", h, back)
		}
		if back := Float32ToBF16(BF16ToFloat32(h)); back != h && h&0x7fff <= 0x7f80 {
			t.Fatalf("Float32ToBF16(BF16ToFloat32(%#04x)) = %#04x", h, back)
		}
	}
}

// TestRoundingIsNearest compares Float32ToF16 and Float32ToBF16 with a
// float64 round-to-nearest-even reference on random inputs.
func TestRoundingIsNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		f := math.Float32frombits(rng.Uint32())
		if f != f {
			continue
		}
		x := float64(f)
		if got, want := Float32ToBF16(f), nearestBF16(x); got != want {
			t.Fatalf("Float32ToBF16(%g) = %#04x, nearest is %#04x", f, got, want)
		}
		if got, want := Float32ToF16(f), nearestF16(x); got != want {
			t.Fatalf("Float32ToF16(%g) = %#04x, nearest is %#04x", f, got, want)
		}
	}
}

// nearest returns the bits among 0..limit (positive patterns of a 16-bit
// format, limit = +Inf) whose value, by dec, is nearest to |x|, ties to even.
func nearest(x float64, limit uint16, dec func(uint16) float32) uint16 {
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	lo, hi := uint16(0), limit
	for hi-lo > 1 { // largest pattern with value ≤ x
		mid := (lo + hi) / 2
		if float64(dec(mid)) <= x {
			lo = mid
		} else {
			hi = mid
		}
	}
	if float64(dec(hi)) <= x {
		lo = hi
	}
	if lo == limit {
		return sign | lo
	}
	a, b := float64(dec(lo)), float64(dec(lo+1))
	if lo+1 == limit { // rounding past the largest finite value: the overflow threshold is max + ulp/2
		b = a + (a - float64(dec(lo-1)))
	}
	switch {
	case x-a < b-x:
		return sign | lo
	case x-a > b-x:
		return sign | (lo + 1)
	case lo&1 == 0:
		return sign | lo
	}
	return sign | (lo + 1)
}

func nearestBF16(x float64) uint16 { return nearest(x, 0x7f80, BF16ToFloat32) }
func nearestF16(x float64) uint16  { return nearest(x, 0x7c00, F16ToFloat32) }

// TestBulkMatchesScalar checks that the bulk loops, aligned or not, serial or
// parallel, agree with the scalar conversions, and F32/F64 round trips.
func TestBulkMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 3*parallelGrain + 17 // large enough for the parallel path
	src := make([]float32, n)
	for i := range src {
		if i%3 == 0 {
			src[i] = math.Float32frombits(rng.Uint32())
		} else {
			src[i] = float32(rng.NormFloat64() * 0.02)
		}
	}
	for _, dt := range []DType{F32, F16, BF16, F64} {
		for _, misalign := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/misalign=%d", dt, misalign), func(t *testing.T) {
				raw := make([]byte, n*dt.Size()+1)
				enc := raw[misalign : misalign+n*dt.Size()]
				if err := EncodeFloat32(enc, src, dt); err != nil {
					t.Fatal(err)
				}
				dec := make([]float32, n)
				if err := DecodeFloat32(dec, enc, dt); err != nil {
					t.Fatal(err)
				}
				for i, f := range src {
					var wantEnc uint64
					var wantDec float32
					switch dt {
					case F32, F64:
						wantDec = f
					case F16:
						wantEnc = uint64(Float32ToF16(f))
						wantDec = F16ToFloat32(uint16(wantEnc))
					case BF16:
						wantEnc = uint64(Float32ToBF16(f))
						wantDec = BF16ToFloat32(uint16(wantEnc))
					}
					if dt == F16 || dt == BF16 {
						if got := uint64(binary.LittleEndian.Uint16(enc[2*i:])); got != wantEnc {
							t.Fatalf("element %d (%g): encoded %#x, want %#x", i, f, got, wantEnc)
						}
					}
					if math.Float32bits(dec[i]) != math.Float32bits(wantDec) && !(f != f && dec[i] != dec[i]) {
						t.Fatalf("element %d (%g): decoded %g, want %g", i, f, dec[i], wantDec)
					}
				}
			})
		}
	}
}

func TestConversionErrors(t *testing.T) {
	if err := DecodeFloat32(make([]float32, 2), make([]byte, 3), BF16); err == nil {
		t.Error("DecodeFloat32 with a short source: no error")
	}
	if err := EncodeFloat32(make([]byte, 3), make([]float32, 2), F16); err == nil {
		t.Error("EncodeFloat32 with a short destination: no error")
	}
	for _, dt := range []DType{I8, U8, I32, BOOL, F8E4M3, "F31"} {
		err := DecodeFloat32(make([]float32, 1), make([]byte, dt.Size()), dt)
		if err == nil || dt.Valid() && !errorsIs(err, ErrUnsupportedDType) {
			t.Errorf("DecodeFloat32(%s): %v, want unsupported dtype", dt, err)
		}
	}
}

func TestIntConversions(t *testing.T) {
	src := []int64{0, 1, -1, math.MaxInt32, math.MinInt32, 1 << 40, -(1 << 40)}
	b := make([]byte, 8*len(src))
	if err := EncodeInt64(b, src, I64); err != nil {
		t.Fatal(err)
	}
	got := make([]int64, len(src))
	if err := DecodeInt64(got, b, I64); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(src) {
		t.Errorf("I64 round trip: %v, want %v", got, src)
	}
	if err := EncodeInt64(make([]byte, 4*len(src)), src, I32); err == nil {
		t.Error("EncodeInt64 to I32 of 1<<40: no error")
	}
	if err := DecodeInt32(make([]int32, len(src)), b, I64); err == nil {
		t.Error("DecodeInt32 of I64 1<<40: no error")
	}
	i32 := make([]byte, 4*5)
	if err := EncodeInt64(i32, src[:5], I32); err != nil {
		t.Fatal(err)
	}
	got32 := make([]int32, 5)
	if err := DecodeInt32(got32, i32, I32); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got32) != fmt.Sprint(src[:5]) {
		t.Errorf("I32 round trip: %v, want %v", got32, src[:5])
	}
}

func benchValues(n int) []float32 {
	rng := rand.New(rand.NewPCG(5, 6))
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.02)
	}
	return src
}

const benchN = 1 << 22 // 4M values: 8 MB of bf16, 16 MB of float32

// BenchmarkDecodeBF16 measures DecodeFloat32 from BF16; MB/s counts the bf16
// bytes read.
func BenchmarkDecodeBF16(b *testing.B) { benchDecode(b, BF16) }

// BenchmarkDecodeF16 measures DecodeFloat32 from F16.
func BenchmarkDecodeF16(b *testing.B) { benchDecode(b, F16) }

// BenchmarkEncodeBF16 measures EncodeFloat32 to BF16; MB/s counts the bf16
// bytes written.
func BenchmarkEncodeBF16(b *testing.B) { benchEncode(b, BF16) }

// BenchmarkEncodeF16 measures EncodeFloat32 to F16.
func BenchmarkEncodeF16(b *testing.B) { benchEncode(b, F16) }

func benchDecode(b *testing.B, dt DType) {
	src := benchValues(benchN)
	enc := make([]byte, benchN*dt.Size())
	if err := EncodeFloat32(enc, src, dt); err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, benchN)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if err := DecodeFloat32(dst, enc, dt); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, dt DType) {
	src := benchValues(benchN)
	dst := make([]byte, benchN*dt.Size())
	b.SetBytes(int64(len(dst)))
	for b.Loop() {
		if err := EncodeFloat32(dst, src, dt); err != nil {
			b.Fatal(err)
		}
	}
}
