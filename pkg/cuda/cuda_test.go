//go:build linux && (amd64 || arm64)

package cuda_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/smt-go/smt/kernels"
	"github.com/smt-go/smt/pkg/cuda"
	"github.com/smt-go/smt/pkg/cuda/cudatest"
)

func TestLoadNotFound(t *testing.T) {
	dir := t.TempDir()
	_, err := cuda.LoadDriver(cuda.LoadOptions{Dirs: []string{dir, "/nonexistent/cuda"}, OnlyDirs: true})
	if err == nil {
		t.Fatal("loaded a driver from an empty directory")
	}
	for _, want := range []string{"libcuda.so.1", dir, "/nonexistent/cuda"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	// A file that is not a shared object is reported with the loader's error.
	if err := os.WriteFile(filepath.Join(dir, "libnccl.so.2"), []byte("not ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = cuda.LoadNCCL(cuda.LoadOptions{Dirs: []string{dir}, OnlyDirs: true})
	if err == nil || !strings.Contains(err.Error(), "could not open: "+filepath.Join(dir, "libnccl.so.2")) {
		t.Errorf("want the open failure in the error, got %v", err)
	}
}

func TestSearchIncludesPythonWheels(t *testing.T) {
	venv := t.TempDir()
	lib := filepath.Join(venv, "lib", "python3.11", "site-packages", "nvidia", "nccl", "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(cuda.LibraryPathEnv, "/opt/smt-cuda-test")
	_, err := cuda.LoadNCCL(cuda.LoadOptions{})
	if err == nil {
		t.Skip("a real NCCL is installed; the search list is not shown")
	}
	for _, want := range []string{lib, "/opt/smt-cuda-test", "system loader", "libnccl.so.2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

// driver loads the stand-in driver and enters a context on device 0.
func driver(t *testing.T) (*cudatest.StandIn, *cuda.Driver, *cuda.Context) {
	s := cudatest.Open(t)
	d, err := cuda.LoadDriver(s.Options())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := d.Device(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := dev.PrimaryContext()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.Enter(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.Exit)
	return s, d, ctx
}

func TestDriver(t *testing.T) {
	s, d, ctx := driver(t)
	if d.Version() != 12040 {
		t.Errorf("version %d", d.Version())
	}
	if n, err := d.DeviceCount(); err != nil || n != 1 {
		t.Errorf("DeviceCount = %d, %v", n, err)
	}
	if _, err := d.Device(3); !cuda.IsCode(err, cuda.ErrorInvalidDevice) || !strings.Contains(err.Error(), "cuda: cuDeviceGet(3): CUDA_ERROR_INVALID_DEVICE") {
		t.Errorf("Device(3): %v", err)
	}
	name, err := ctx.Dev.Name()
	if err != nil || name != "Stand-in GPU 0" {
		t.Errorf("Name = %q, %v", name, err)
	}
	if v, err := ctx.Dev.Attribute(cuda.AttrComputeCapabilityMajor); err != nil || v != 8 {
		t.Errorf("compute capability %d, %v", v, err)
	}
	if c := s.Find(t, "cuDeviceGetAttribute"); len(c) != 1 || c[0].Int("attr") != 75 || c[0].Int("dev") != 0 {
		t.Errorf("cuDeviceGetAttribute calls: %v", c)
	}

	// Memory: allocate, set, copy both ways.
	p, err := d.MemAlloc(64)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MemsetD32(p, 0x3f800000, 16); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 16)
	if err := d.MemcpyDtoH(unsafe.Pointer(&got[0]), p, 64); err != nil {
		t.Fatal(err)
	}
	if got[15] != 1 {
		t.Errorf("memset then copy: %v", got)
	}
	src := []float32{1, 2, 3, 4}
	st, err := d.StreamCreate(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MemcpyHtoDAsync(p+8, unsafe.Pointer(&src[0]), 16, st); err != nil {
		t.Fatal(err)
	}
	if err := d.StreamSynchronize(st); err != nil {
		t.Fatal(err)
	}
	if err := d.MemcpyDtoH(unsafe.Pointer(&got[0]), p, 64); err != nil {
		t.Fatal(err)
	}
	if got[1] != 1 || got[2] != 1 || got[3] != 2 || got[5] != 4 || got[6] != 1 {
		t.Errorf("async copy at an offset: %v", got)
	}
	c := s.Find(t, "cuMemcpyHtoDAsync_v2")
	if len(c) != 1 || c[0].Int("dst") != int64(p+8) || c[0].Int("bytes") != 16 || c[0].Int("stream") != int64(st) {
		t.Errorf("cuMemcpyHtoDAsync_v2 calls: %v", c)
	}
	// A copy past the end of the allocation is refused.
	if err := d.MemcpyHtoD(p+60, unsafe.Pointer(&src[0]), 16); !cuda.IsCode(err, cuda.ErrorInvalidValue) {
		t.Errorf("copy past the end: %v", err)
	}
	free, total, err := d.MemGetInfo()
	if err != nil || total-free != 64 {
		t.Errorf("MemGetInfo = %d, %d, %v", free, total, err)
	}

	// Events.
	e0, _ := d.EventCreate(0)
	e1, _ := d.EventCreate(0)
	if err := d.EventRecord(e0, st); err != nil {
		t.Fatal(err)
	}
	_ = d.EventRecord(e1, st)
	_ = d.EventSynchronize(e1)
	if ms, err := d.EventElapsed(e0, e1); err != nil || ms != 1.5 {
		t.Errorf("EventElapsed = %v, %v", ms, err)
	}

	if err := d.MemFree(p); err != nil {
		t.Fatal(err)
	}
	if err := d.MemFree(p); !cuda.IsCode(err, cuda.ErrorInvalidValue) {
		t.Errorf("double free: %v", err)
	}
	if probs := s.Problems(t); len(probs) != 2 { // the refused copy and the double free
		t.Errorf("problems: %v", probs)
	}
}

func TestErrorTranslation(t *testing.T) {
	s, d, _ := driver(t)
	s.Fail(t, "cuda", "cuMemAlloc_v2", cuda.ErrorOutOfMemory)
	_, err := d.MemAlloc(1 << 30)
	want := "cuda: cuMemAlloc_v2(1073741824): CUDA_ERROR_OUT_OF_MEMORY (out of memory)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if !cuda.IsCode(err, cuda.ErrorOutOfMemory) {
		t.Errorf("IsCode(%v, OOM) = false", err)
	}
	// A code the driver has no name for still reads well.
	s.Fail(t, "cuda", "cuStreamSynchronize", 999)
	err = d.StreamSynchronize(0)
	if err == nil || err.Error() != "cuda: cuStreamSynchronize: CUDA_ERROR_999" {
		t.Errorf("unknown code: %v", err)
	}
	// Failures of cuInit are reported by LoadDriver.
	s.Fail(t, "cuda", "cuInit", cuda.ErrorNoDevice)
	_, err = cuda.LoadDriver(s.Options())
	if err == nil || !strings.Contains(err.Error(), "cuInit(0): CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)") {
		t.Errorf("cuInit failure: %v", err)
	}
}

func TestModuleAndLaunch(t *testing.T) {
	s, d, _ := driver(t)
	var ptx []byte
	for _, m := range kernels.Modules() {
		if m.Name == "elementwise" {
			ptx = m.PTX
		}
	}
	mod, err := d.ModuleLoadData("elementwise", ptx)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Find(t, "cuModuleLoadDataEx"); len(c) != 1 || c[0].Args["opts"] != "5,6" || c[0].Int("bytes") != int64(len(ptx)) {
		t.Errorf("cuModuleLoadDataEx calls: %v", c)
	}
	_, err = d.ModuleLoadData("junk", []byte("junk"))
	if !cuda.IsCode(err, cuda.ErrorInvalidPTX) || !strings.Contains(err.Error(), "JIT log: stand-in: the image is not PTX") {
		t.Errorf("bad PTX: %v", err)
	}
	if _, err := d.ModuleFunction(mod, "smt_nonexistent"); !cuda.IsCode(err, cuda.ErrorNotFound) {
		t.Errorf("missing kernel: %v", err)
	}
	f, err := d.ModuleFunction(mod, "smt_scale")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := d.MemAlloc(4 * 100)
	vals := make([]float32, 100)
	for i := range vals {
		vals[i] = float32(i)
	}
	_ = d.MemcpyHtoD(p, unsafe.Pointer(&vals[0]), 400)
	a := new(cuda.Args)
	a.Reset().Ptr(p).F32(0.5).I32(0).I64(100) // smt_scale(x, s, dts, n)
	if err := d.Launch(f, cuda.Dim3{X: 2}, cuda.Dim3{X: 64}, 0, 0, a); err != nil {
		t.Fatal(err)
	}
	c := s.Find(t, "cuLaunchKernel")
	if len(c) != 1 || c[0].Args["name"] != "smt_scale" || c[0].Args["grid"] != "2x1x1" || c[0].Args["block"] != "64x1x1" ||
		c[0].Int("p0") != int64(p) || c[0].Float("p1") != 0.5 || c[0].Int("p2") != 0 || c[0].Int("p3") != 100 {
		t.Errorf("cuLaunchKernel calls: %v", c)
	}
	_ = d.MemcpyDtoH(unsafe.Pointer(&vals[0]), p, 400)
	if vals[99] != 49.5 || vals[3] != 1.5 {
		t.Errorf("the emulated kernel did not scale: %v", vals[:4])
	}
	// Arguments that do not match the kernel's parameters are caught.
	a.Reset().Ptr(p).F32(0.5).I64(0).I64(100)
	if err := d.Launch(f, cuda.Dim3{X: 1}, cuda.Dim3{X: 32}, 0, 0, a); err == nil || !strings.Contains(err.Error(), "cuLaunchKernel(smt_scale, grid 1×1×1, block 32×1×1, shared 0): CUDA_ERROR_INVALID_VALUE") {
		t.Errorf("mismatched arguments: %v", err)
	}
	a.Reset().Ptr(p).F32(0.5).I32(0)
	if err := d.Launch(f, cuda.Dim3{X: 1}, cuda.Dim3{X: 32}, 0, 0, a); err == nil {
		t.Error("too few arguments launched")
	}
	a.Reset().Ptr(p).F32(0.5).I32(0).I64(100).I32(7)
	if err := d.Launch(f, cuda.Dim3{X: 1}, cuda.Dim3{X: 32}, 0, 0, a); err == nil {
		t.Error("too many arguments launched")
	}
	// Over 48 KiB of dynamic shared memory needs the attribute.
	a.Reset().Ptr(p).F32(1).I32(0).I64(100)
	if err := d.Launch(f, cuda.Dim3{X: 1}, cuda.Dim3{X: 32}, 64<<10, 0, a); err == nil {
		t.Error("64 KiB of shared memory without the attribute launched")
	}
	if err := d.FuncSetAttribute(f, cuda.FuncAttrMaxDynamicSharedSize, 64<<10); err != nil {
		t.Fatal(err)
	}
	if err := d.Launch(f, cuda.Dim3{X: 1}, cuda.Dim3{X: 32}, 64<<10, 0, a); err != nil {
		t.Error(err)
	}
	if len(s.Find(t, "PARAMS-MISMATCH")) != 3 || len(s.Find(t, "SHARED-TOO-BIG")) != 1 {
		t.Errorf("problems: %v", s.Problems(t))
	}
}

func TestBLAS(t *testing.T) {
	s, d, _ := driver(t)
	if _, err := cuda.LoadBLAS(s.Options(), 11080); err == nil || !strings.Contains(err.Error(), "libcublas.so.11") || strings.Contains(err.Error(), "libcublas.so.12") {
		t.Errorf("a CUDA 11.8 driver must not get cuBLAS 12: %v", err)
	}
	b, err := cuda.LoadBLAS(s.Options(), d.Version())
	if err != nil {
		t.Fatal(err)
	}
	if b.Version() != 120405 || !strings.HasSuffix(b.Path(), "libcublas.so.12") {
		t.Errorf("cuBLAS %d at %s", b.Version(), b.Path())
	}
	h, err := b.Create()
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := d.MemAlloc(1 << 20)
	if err := h.SetStream(0x1234); err != nil {
		t.Fatal(err)
	}
	if err := h.SetWorkspace(ws, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := h.SetMathMode(cuda.MathDefault | cuda.MathDisallowReducedPrecisionReduction); err != nil {
		t.Fatal(err)
	}
	// C (2×3, fp32) = Aᵀ (A 4×2 bf16, lda 4) · B (4×3 bf16, ldb 5), column-major.
	A := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	B := make([]float32, 15)
	for i := range B {
		B[i] = float32(i%5) - 1
	}
	up := func(v []float32) cuda.DevicePtr {
		h := make([]uint16, len(v))
		for i, x := range v {
			h[i] = cuda.BF16(x)
		}
		p, _ := d.MemAlloc(2 * len(v))
		_ = d.MemcpyHtoD(p, unsafe.Pointer(&h[0]), 2*len(v))
		return p
	}
	pa, pb := up(A), up(B)
	pc, _ := d.MemAlloc(4 * 6)
	g := &cuda.Gemm{TransA: cuda.OpT, TransB: cuda.OpN, M: 2, N: 3, K: 4, Alpha: 2, Beta: 0,
		A: pa, AType: cuda.R16BF, LDA: 4, B: pb, BType: cuda.R16BF, LDB: 5, C: pc, CType: cuda.R32F, LDC: 2,
		Compute: cuda.Compute32F, Algo: cuda.GemmDefault}
	if err := h.GemmEx(g); err != nil {
		t.Fatal(err)
	}
	c := s.Find(t, "cublasGemmEx")
	want := map[string]int64{"ta": 1, "tb": 0, "m": 2, "n": 3, "k": 4, "Atype": 14, "lda": 4, "Btype": 14, "ldb": 5, "Ctype": 0,
		"ldc": 2, "compute": 68, "algo": -1, "A": int64(pa), "B": int64(pb), "C": int64(pc), "handle": 0xB1A5}
	if len(c) != 1 {
		t.Fatalf("cublasGemmEx calls: %v", c)
	}
	for k, v := range want {
		if c[0].Int(k) != v {
			t.Errorf("cublasGemmEx %s = %d, want %d", k, c[0].Int(k), v)
		}
	}
	if c[0].Float("alpha") != 2 || c[0].Float("beta") != 0 {
		t.Errorf("alpha/beta: %s", c[0].Line)
	}
	got := make([]float32, 6)
	_ = d.MemcpyDtoH(unsafe.Pointer(&got[0]), pc, 24)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			var s float32
			for p := 0; p < 4; p++ {
				s += A[i*4+p] * B[j*5+p]
			}
			if got[i+2*j] != 2*s {
				t.Errorf("C[%d,%d] = %v, want %v", i, j, got[i+2*j], 2*s)
			}
		}
	}
	if err := h.GemmStridedBatchedEx(g, 0, 0, 0, 1); err != nil {
		t.Fatal(err)
	}
	if c := s.Find(t, "cublasGemmStridedBatchedEx"); len(c) != 1 || c[0].Int("batch") != 1 || c[0].Int("strideA") != 0 || c[0].Int("compute") != 68 {
		t.Errorf("cublasGemmStridedBatchedEx calls: %v", c)
	}
	ptrs := []uint64{uint64(pa), uint64(pb), uint64(pc)}
	arr, _ := d.MemAlloc(24)
	_ = d.MemcpyHtoD(arr, unsafe.Pointer(&ptrs[0]), 24)
	gb := *g
	gb.A, gb.B, gb.C = arr, arr+8, arr+16
	if err := h.GemmBatchedEx(&gb, 1); err != nil {
		t.Fatal(err)
	}
	if c := s.Find(t, "cublasGemmBatchedEx.item"); len(c) != 1 || c[0].Int("A") != int64(pa) || c[0].Int("C") != int64(pc) {
		t.Errorf("cublasGemmBatchedEx items: %v", c)
	}
	// Unsupported type combinations and injected failures become errors.
	bad := *g
	bad.AType = cuda.R32F
	if err := h.GemmEx(&bad); err == nil || !strings.Contains(err.Error(), "cublas: cublasGemmEx(TN m=2 n=3 k=4 types 0/14/0") || !strings.Contains(err.Error(), "CUBLAS_STATUS_NOT_SUPPORTED") {
		t.Errorf("unsupported types: %v", err)
	}
	s.Fail(t, "cublas", "cublasCreate_v2", 1)
	if _, err := b.Create(); err == nil || err.Error() != "cublas: cublasCreate_v2: CUBLAS_STATUS_NOT_INITIALIZED" {
		t.Errorf("create failure: %v", err)
	}
	if err := h.Destroy(); err != nil {
		t.Error(err)
	}
}

func TestNCCL(t *testing.T) {
	s, d, _ := driver(t)
	n, err := cuda.LoadNCCL(s.Options())
	if err != nil {
		t.Fatal(err)
	}
	if n.Version() != 22105 {
		t.Errorf("version %d", n.Version())
	}
	id, err := n.UniqueID()
	if err != nil {
		t.Fatal(err)
	}
	comm, err := n.CommInitRank(1, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Find(t, "ncclCommInitRank")
	if len(c) != 1 || c[0].Int("idok") != 1 || c[0].Int("nranks") != 1 || c[0].Int("rank") != 0 {
		t.Fatalf("ncclCommInitRank calls (the id is passed by value): %v", c)
	}
	src := []uint16{cuda.BF16(1.5), cuda.BF16(-2)}
	send, _ := d.MemAlloc(4)
	recv, _ := d.MemAlloc(4)
	_ = d.MemcpyHtoD(send, unsafe.Pointer(&src[0]), 4)
	if err := n.GroupStart(); err != nil {
		t.Fatal(err)
	}
	if err := comm.AllReduce(send, recv, 2, cuda.NCCLBfloat16, cuda.RedSum, 0x77); err != nil {
		t.Fatal(err)
	}
	if err := n.GroupEnd(); err != nil {
		t.Fatal(err)
	}
	c = s.Find(t, "ncclAllReduce")
	if len(c) != 1 || c[0].Int("send") != int64(send) || c[0].Int("recv") != int64(recv) || c[0].Int("count") != 2 ||
		c[0].Int("datatype") != 9 || c[0].Int("op") != 0 || c[0].Int("stream") != 0x77 {
		t.Errorf("ncclAllReduce calls: %v", c)
	}
	got := make([]uint16, 2)
	_ = d.MemcpyDtoH(unsafe.Pointer(&got[0]), recv, 4)
	if cuda.FromBF16(got[0]) != 1.5 || cuda.FromBF16(got[1]) != -2 {
		t.Errorf("one-rank all-reduce: %v", got)
	}
	s.Fail(t, "nccl", "ncclAllReduce", 5)
	err = comm.AllReduce(send, recv, 2, cuda.NCCLFloat32, cuda.RedSum, 0)
	if err == nil || err.Error() != "nccl: ncclAllReduce(2 elements, type 7, op 0): ncclInvalidUsage (stand-in NCCL error 5)" {
		t.Errorf("failure: %v", err)
	}
	if err := comm.Destroy(); err != nil {
		t.Error(err)
	}
}

func TestHalfConversions(t *testing.T) {
	// Every half and bfloat16 value converts to float32 and back unchanged.
	for h := 0; h < 1<<16; h++ {
		f := cuda.FromF16(uint16(h))
		if f == f && cuda.F16(f) != uint16(h) {
			t.Fatalf("f16 %#04x → %v → %#04x", h, f, cuda.F16(f))
		}
		b := cuda.FromBF16(uint16(h))
		if b == b && cuda.BF16(b) != uint16(h) {
			t.Fatalf("bf16 %#04x → %v → %#04x", h, b, cuda.BF16(b))
		}
	}
	cases := []struct {
		f    float32
		bf16 uint16
		f16  uint16
	}{
		{1, 0x3f80, 0x3c00},
		{-2, 0xc000, 0xc000},
		{1 + 1.0/256, 0x3f80, 0x3c04},                 // bf16: halfway, to even (down)
		{1 + 3.0/256, 0x3f82, 0x3c0c},                 // bf16: halfway, to even (up)
		{65520, 0x4780, 0x7c00},                       // f16: rounds to Inf
		{float32(math.Ldexp(1, -24)), 0x3380, 0x0001}, // f16: smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x3300, 0x0000}, // f16: halfway to 0, to even
		{float32(math.Ldexp(3, -26)), 0x3340, 0x0001}, // f16: above halfway
		{float32(math.Inf(-1)), 0xff80, 0xfc00},
	}
	for _, c := range cases {
		if got := cuda.BF16(c.f); got != c.bf16 {
			t.Errorf("BF16(%v) = %#04x, want %#04x", c.f, got, c.bf16)
		}
		if got := cuda.F16(c.f); got != c.f16 {
			t.Errorf("F16(%v) = %#04x, want %#04x", c.f, got, c.f16)
		}
	}
	if nan := cuda.BF16(float32(math.NaN())); nan&0x7fc0 != 0x7fc0 {
		t.Errorf("BF16(NaN) = %#04x", nan)
	}
}

func TestBLASVersionChoice(t *testing.T) {
	s := cudatest.Open(t)
	dir := t.TempDir()
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(filepath.Join(s.Dir, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("libcublas.so.12", "libcublas.so.12")
	copyFile("libcublas.so.12", "libcublas.so.13")
	copyFile("libnccl.so.2", "libcublasLt.so.13") // any shared object: checks the preload
	opts := cuda.LoadOptions{Dirs: []string{dir}, OnlyDirs: true, Local: true}
	b, err := cuda.LoadBLAS(opts, 12080)
	if err != nil || b.Path() != filepath.Join(dir, "libcublas.so.12") {
		t.Errorf("CUDA 12.8 driver: %v, %v", b, err)
	}
	b, err = cuda.LoadBLAS(opts, 13000)
	if err != nil || b.Path() != filepath.Join(dir, "libcublas.so.13") {
		t.Fatalf("CUDA 13.0 driver: %v, %v", b, err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	if !strings.Contains(string(maps), filepath.Join(dir, "libcublasLt.so.13")) {
		t.Error("libcublasLt.so.13 beside libcublas.so.13 was not loaded first")
	}
}
