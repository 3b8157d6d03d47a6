package safetensors

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRoundTripEveryDType writes tensors of every dtype we compute with, then
// reads them back through every accessor.
func TestRoundTripEveryDType(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]float32, 24)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	vals[0], vals[1], vals[2] = 0, float32(math.Inf(-1)), 65504
	ints := []int64{0, 1, -1, 123456789, -987654321, math.MaxInt32, math.MinInt32, 42}
	var tensors []Tensor
	for _, dt := range []DType{F32, F16, BF16, F64} {
		b := make([]byte, len(vals)*dt.Size())
		if err := EncodeFloat32(b, vals, dt); err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, Tensor{TensorInfo{Name: "float." + string(dt), DType: dt, Shape: []int{2, 3, 4}}, b})
	}
	for _, dt := range []DType{I32, I64} {
		b := make([]byte, len(ints)*dt.Size())
		if err := EncodeInt64(b, ints, dt); err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, Tensor{TensorInfo{Name: "int." + string(dt), DType: dt, Shape: []int{8}}, b})
	}
	tensors = append(tensors,
		Tensor{TensorInfo{Name: "bytes.U8", DType: U8, Shape: []int{3}}, []byte{1, 2, 255}},
		Tensor{TensorInfo{Name: "empty", DType: F32, Shape: []int{0, 5}}, nil},
		Tensor{TensorInfo{Name: "scalar", DType: F32, Shape: []int{}}, f32Bytes(3.5)},
	)
	meta := map[string]string{"format": "pt", "note": "round trip"}
	p := filepath.Join(t.TempDir(), "all.safetensors")
	if err := WriteFile(p, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Path() != p || !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("Path %q, Metadata %v", f.Path(), f.Metadata())
	}
	if f.DataOffset()%8 != 0 {
		t.Errorf("data buffer starts at %d, not 8-aligned", f.DataOffset())
	}
	var names []string
	for _, tt := range tensors {
		names = append(names, tt.Info.Name)
	}
	if !reflect.DeepEqual(f.Names(), names) {
		t.Errorf("Names() = %v, want %v (write order)", f.Names(), names)
	}
	for _, tt := range tensors {
		info, ok := f.Info(tt.Info.Name)
		if !ok || info.DType != tt.Info.DType || !reflect.DeepEqual(info.Shape, tt.Info.Shape) {
			t.Errorf("Info(%q) = %+v", tt.Info.Name, info)
		}
		b, err := f.Bytes(tt.Info.Name)
		if err != nil || string(b) != string(tt.Data) {
			t.Errorf("Bytes(%q) differ: %v", tt.Info.Name, err)
		}
	}
	for _, dt := range []DType{F32, F16, BF16, F64} {
		name := "float." + string(dt)
		got, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			want := v
			switch dt {
			case F16:
				want = F16ToFloat32(Float32ToF16(v))
			case BF16:
				want = BF16ToFloat32(Float32ToBF16(v))
			}
			if got[i] != want {
				t.Errorf("%s[%d] = %g, want %g", name, i, got[i], want)
			}
		}
		dst := make([]float32, 24)
		if err := f.ReadFloat32(name, dst); err != nil || !reflect.DeepEqual(dst, got) {
			t.Errorf("ReadFloat32(%s): %v", name, err)
		}
		wantErr(t, f.ReadFloat32(name, make([]float32, 23)), p, name, "destination holds 23 values, shape [2 3 4] has 24")
	}
	for _, dt := range []DType{I32, I64} {
		got, err := f.Int64s("int." + string(dt))
		if err != nil || !reflect.DeepEqual(got, ints) {
			t.Errorf("Int64s(int.%s) = %v, %v", dt, got, err)
		}
		got32, err := f.Int32s("int." + string(dt))
		if err != nil || len(got32) != len(ints) || int64(got32[6]) != ints[6] {
			t.Errorf("Int32s(int.%s) = %v, %v", dt, got32, err)
		}
	}
	if v, err := f.Float32("scalar"); err != nil || len(v) != 1 || v[0] != 3.5 {
		t.Errorf("scalar = %v, %v", v, err)
	}
	if v, err := f.Float32("empty"); err != nil || len(v) != 0 {
		t.Errorf("empty = %v, %v", v, err)
	}
	_, err = f.Float32("bytes.U8")
	wantErr(t, err, p, `tensor "bytes.U8"`, "U8", "unsupported dtype")
	_, err = f.Bytes("nope")
	wantErr(t, err, p, `tensor "nope"`, "not found")
	if !errorsIs(err, ErrNotFound) {
		t.Errorf("missing tensor error %v is not ErrNotFound", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = f.Bytes("scalar")
	wantErr(t, err, "closed")
}

// TestZeroCopy checks that Bytes returns a view into the mapping, not a copy.
func TestZeroCopy(t *testing.T) {
	f, err := Open("testdata/hf/rust_serialization.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, _ := f.Bytes("attn.0")
	b, _ := f.Bytes("attn.0")
	if &a[0] != &b[0] || &a[0] != &f.data[f.DataOffset()] {
		t.Error("Bytes copies the data")
	}
	if cap(a) != len(a) {
		t.Errorf("Bytes has cap %d > len %d: appending would write past the tensor", cap(a), len(a))
	}
}

// TestCorruptFiles checks that each kind of damage gives its own error naming
// the file and, where one is at fault, the tensor.
func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/hf/rust_serialization.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	ok := `"dtype":"F32","shape":[2],"data_offsets":[0,8]`
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<40)
	pastEOF := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(pastEOF, 200)
	for _, c := range []struct {
		name string
		path string
		want []string
	}{
		{"empty file", write("empty.safetensors", nil), []string{"empty.safetensors", "0 bytes, too short"}},
		{"truncated", write("truncated.safetensors", good[:len(good)-5]), []string{"truncated.safetensors", `tensor "attn.0"`, "[0,24] run past the end of the 19-byte data buffer"}},
		{"trailing garbage", write("trailing.safetensors", append(append([]byte(nil), good...), 1, 2)), []string{"trailing.safetensors", "[24,26)", "belong to no tensor"}},
		{"header length past EOF", write("pasteof.safetensors", pastEOF), []string{"pasteof.safetensors", "header length 200 runs past the end of the 96-byte file"}},
		{"absurd header length", write("huge.safetensors", hugeLen), []string{"huge.safetensors", "header length 1099511627776 exceeds the 100000000-byte limit"}},
		{"bad JSON", writeRaw(t, dir, "badjson.safetensors", `{"a":{"dtype":"F32",}}`, nil), []string{"badjson.safetensors", `tensor "a"`, "not valid JSON"}},
		{"not an object", writeRaw(t, dir, "array.safetensors", `[1,2,3]`, nil), []string{"array.safetensors", "not a JSON object"}},
		{"overlap", writeRaw(t, dir, "overlap.safetensors", `{"a":{`+ok+`},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)),
			[]string{"overlap.safetensors", `tensor "b": data_offsets [4,12] overlap tensor "a"`}},
		{"hole", writeRaw(t, dir, "hole.safetensors", `{"a":{`+ok+`},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, make([]byte, 16)),
			[]string{"hole.safetensors", `tensor "b"`, "hole: bytes [8,12)"}},
		{"wrong length", writeRaw(t, dir, "len.safetensors", `{"model.layers.0.self_attn.q_proj.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[0,100]}}`, make([]byte, 100)),
			[]string{`safetensors: ` + filepath.Join(dir, "len.safetensors") + `: tensor "model.layers.0.self_attn.q_proj.weight": data_offsets [0,100] give 100 bytes, shape [4 8] × F32 needs 128`}},
		{"offsets past end", writeRaw(t, dir, "past.safetensors", `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)),
			[]string{"past.safetensors", `tensor "a"`, "run past the end of the 8-byte data buffer"}},
		{"unknown dtype", writeRaw(t, dir, "dtype.safetensors", `{"a":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)),
			[]string{"dtype.safetensors", `tensor "a"`, `unknown dtype "Q4_K"`}},
		{"missing shape", writeRaw(t, dir, "noshape.safetensors", `{"a":{"dtype":"F32","data_offsets":[0,8]}}`, make([]byte, 8)),
			[]string{"noshape.safetensors", `tensor "a"`, `no "shape"`}},
		{"duplicate name", writeRaw(t, dir, "dup.safetensors", `{"a":{`+ok+`},"a":{`+ok+`}}`, make([]byte, 8)),
			[]string{"dup.safetensors", `tensor "a" appears twice`}},
		{"bad metadata", writeRaw(t, dir, "meta.safetensors", `{"__metadata__":{"step":100}}`, nil),
			[]string{"meta.safetensors", "__metadata__", `"step" must be a string`}},
		{"missing file", filepath.Join(dir, "absent.safetensors"), []string{"absent.safetensors", "no such file"}},
		{"directory", dir, []string{"not a regular file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Open(c.path)
			if err == nil {
				f.Close()
			}
			wantErr(t, err, c.want...)
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}
