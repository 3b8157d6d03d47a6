package cuda

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
	cu "github.com/smt-go/smt/pkg/cuda"
	"github.com/smt-go/smt/pkg/cuda/cudatest"
)

// These tests check the backend's calls into the driver and cuBLAS
// through the stand-in libraries' logs; they need no GPU.

func standinBackend(t *testing.T, o Options) (*cudatest.StandIn, *Backend) {
	t.Helper()
	s := cudatest.Open(t)
	o.Load = s.Options()
	be, err := NewWithOptions(0, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = be.Close() })
	return s, be
}

func upload(be *Backend, dt backend.DType, v []float32) *Buf {
	b := be.Alloc(dt, len(v))
	be.Upload(b, v)
	return b.(*Buf)
}

func seq(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%7-3) * scale
	}
	return v
}

func TestStandInSetup(t *testing.T) {
	s, be := standinBackend(t, Options{})
	if !strings.HasPrefix(be.Name(), "cuda:0 (Stand-in GPU 0, 80 GiB, sm_80") {
		t.Errorf("name %q", be.Name())
	}
	if be.DType() != backend.BF16 {
		t.Errorf("dtype %s", be.DType())
	}
	calls := s.Calls(t)
	var stream int64
	for _, c := range calls {
		switch c.Fn {
		case "cuStreamCreate":
			stream = c.Int("stream")
		case "cublasSetStream_v2":
			if c.Int("stream") != stream || stream == 0 {
				t.Errorf("cuBLAS runs on stream %#x, the backend's is %#x", c.Int("stream"), stream)
			}
		case "cublasSetWorkspace_v2":
			if c.Int("bytes") != 32<<20 {
				t.Errorf("workspace %d bytes", c.Int("bytes"))
			}
		case "cublasSetMathMode":
			if c.Int("mode") != cu.MathDisallowReducedPrecisionReduction {
				t.Errorf("math mode %d", c.Int("mode"))
			}
		}
	}
	if n := len(s.Find(t, "cuModuleGetFunction")); n < 30 {
		t.Errorf("only %d kernels loaded", n)
	}
	for _, c := range s.Find(t, "cuModuleGetFunction") {
		if c.Int("found") != 1 {
			t.Errorf("kernel not found: %s", c.Line)
		}
	}
}

func TestStandInMatMulArgs(t *testing.T) {
	s, be := standinBackend(t, Options{})
	m, n, k := 3, 5, 4
	a := upload(be, backend.BF16, seq(k*(m+1), 1)) // transA: stored k×m with lda m+1
	b := upload(be, backend.BF16, seq(k*n, 0.5))   // stored k×n
	c := be.Alloc(backend.F32, m*n).(*Buf)
	s.Reset(t)
	be.MatMul(true, false, m, n, k, 0.5, a, m+1, b, n, 1, c, n)
	g := s.Find(t, "cublasGemmEx")
	if len(g) != 1 {
		t.Fatalf("cublasGemmEx calls: %v", g)
	}
	want := map[string]int64{
		"ta": 0, "tb": 1, // op(B)ᵀ → B as stored (N), op(A)ᵀ → A transposed (T)
		"m": int64(n), "n": int64(m), "k": int64(k),
		"A": int64(b.ptr), "Atype": 14, "lda": int64(n),
		"B": int64(a.ptr), "Btype": 14, "ldb": int64(m + 1),
		"C": int64(c.ptr), "Ctype": 0, "ldc": int64(n),
		"compute": 68, "algo": -1,
	}
	for key, v := range want {
		if got := g[0].Int(key); got != v {
			t.Errorf("%s = %d, want %d", key, got, v)
		}
	}
	if g[0].Float("alpha") != 0.5 || g[0].Float("beta") != 1 {
		t.Errorf("scalars: %s", g[0].Line)
	}
}

func TestStandInBlockGradArgs(t *testing.T) {
	s, be := standinBackend(t, Options{})
	S, N, out, in := 4, 6, 12, 8
	dy := upload(be, backend.BF16, seq(N*out, 1))
	x := upload(be, backend.BF16, seq(N*in, 1))
	dst := be.Alloc(backend.F32, 3*S*S).(*Buf)
	tb := backend.BlockTable{Size: S, Out: out, In: in, Rows: []int32{2, 0, 1}, Cols: []int32{1, 1, 0}}
	xcol := []int32{4, 4, 0}
	s.Reset(t)
	be.BlockGrad(dst, 1, dy, out, x, in, N, tb, xcol)
	g := s.Find(t, "cublasGemmBatchedEx")
	if len(g) != 1 {
		t.Fatalf("cublasGemmBatchedEx calls: %v", g)
	}
	want := map[string]int64{"ta": 0, "tb": 1, "m": int64(S), "n": int64(S), "k": int64(N), "Atype": 14, "lda": int64(in),
		"Btype": 14, "ldb": int64(out), "Ctype": 0, "ldc": int64(S), "batch": 3, "compute": 68, "algo": -1}
	for key, v := range want {
		if got := g[0].Int(key); got != v {
			t.Errorf("%s = %d, want %d", key, got, v)
		}
	}
	if g[0].Float("beta") != 1 || g[0].Float("alpha") != 1 {
		t.Errorf("scalars: %s", g[0].Line)
	}
	items := s.Find(t, "cublasGemmBatchedEx.item")
	if len(items) != 3 {
		t.Fatalf("items: %v", items)
	}
	for i, it := range items {
		if got, want := it.Int("A"), int64(x.ptr)+2*int64(xcol[i]); got != want {
			t.Errorf("block %d: X pointer %#x, want %#x", i, got, want)
		}
		if got, want := it.Int("B"), int64(dy.ptr)+2*int64(tb.Rows[i])*int64(S); got != want {
			t.Errorf("block %d: dY pointer %#x, want %#x", i, got, want)
		}
		if got, want := it.Int("C"), int64(dst.ptr)+4*int64(i*S*S); got != want {
			t.Errorf("block %d: dst pointer %#x, want %#x", i, got, want)
		}
	}
	// The pointer arrays live in the scratch arena, copied in one transfer.
	cp := s.Find(t, "cuMemcpyHtoDAsync_v2")
	if len(cp) != 1 || cp[0].Int("bytes") != 3*3*8 || cp[0].Int("dst") != g[0].Int("A") {
		t.Errorf("pointer array upload: %v", cp)
	}
}

// steps runs a few ops that take host integer inputs.
func steps(be *Backend, bufs []*Buf, ids []int32) {
	emb, out, lg := bufs[0], bufs[1], bufs[2]
	be.Embedding(out, emb, ids, 8)
	be.RoPE(out, ids, emb, emb, len(ids), 2, 4, false)
	losses := make([]float32, len(ids))
	be.CrossEntropy(lg, ids, len(ids), 16, 1, losses)
	be.Argmax(lg, len(ids), 16)
	be.SumSquares(out, len(ids)*8)
	be.EmbeddingBackward(emb, out, ids, 8)
}

func TestStandInNoAllocPerStep(t *testing.T) {
	s, be := standinBackend(t, Options{})
	bufs := []*Buf{upload(be, backend.BF16, seq(16*8, 0.1)), be.Alloc(backend.BF16, 5*8).(*Buf), upload(be, backend.BF16, seq(5*16, 1))}
	ids := []int32{3, 1, 4, 1, 5}
	steps(be, bufs, ids) // first use may grow the arena
	s.Reset(t)
	for i := 0; i < 3; i++ {
		steps(be, bufs, ids)
	}
	if a := s.Find(t, "cuMemAlloc_v2"); len(a) != 0 {
		t.Errorf("repeated steps allocated device memory: %v", a)
	}
	if f := s.Find(t, "cuMemFree_v2"); len(f) != 0 {
		t.Errorf("repeated steps freed device memory: %v", f)
	}
	if n := len(s.Find(t, "cuMemcpyHtoDAsync_v2")); n != 3*4 {
		t.Errorf("%d host-to-device copies for 12 ops with integer inputs", n)
	}
}

func TestStandInMemory(t *testing.T) {
	_, be := standinBackend(t, Options{})
	m0 := be.Memory()
	if m0.Allocated < 32<<20 || m0.DeviceTotal != 80<<30 || m0.DeviceUsed < m0.Allocated {
		t.Errorf("initial: %+v", m0)
	}
	b := be.Alloc(backend.F32, 1000)
	m1 := be.Memory()
	if m1.Allocated-m0.Allocated != 4096 || m1.Peak < m1.Allocated {
		t.Errorf("after a 4000-byte allocation: %+v → %+v", m0, m1)
	}
	be.Free(b)
	m2 := be.Memory()
	if m2.Allocated != m0.Allocated || m2.Peak != m1.Peak {
		t.Errorf("after free: %+v", m2)
	}
	be.ResetPeak()
	if m := be.Memory(); m.Peak != m.Allocated {
		t.Errorf("after ResetPeak: %+v", m)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "freed twice") {
			t.Errorf("double Free: %v", r)
		}
	}()
	be.Free(b)
}

func TestStandInErrorsPanic(t *testing.T) {
	s, be := standinBackend(t, Options{})
	x := upload(be, backend.F32, seq(10, 1))
	s.Fail(t, "cuda", "cuLaunchKernel", 719) // CUDA_ERROR_LAUNCH_FAILED: no name in the stand-in
	err := func() (err error) {
		defer func() { err, _ = recover().(error) }()
		be.Add(x, x, x, 10)
		return nil
	}()
	var ce *cu.Error
	if !errors.As(err, &ce) || ce.Code != 719 || !strings.HasPrefix(err.Error(), "cuda backend: Add: cuda: cuLaunchKernel(smt_add, grid 1×1×1, block 256×1×1, shared 0): CUDA_ERROR_719") {
		t.Errorf("got %v", err)
	}
	s.Fail(t, "cublas", "cublasGemmEx", 13)
	err = func() (err error) {
		defer func() { err, _ = recover().(error) }()
		be.MatMul(false, false, 2, 2, 2, 1, x, 2, x, 2, 0, x, 2)
		return nil
	}()
	if err == nil || !strings.Contains(err.Error(), "cuda backend: MatMul: cublas: cublasGemmEx(NN m=2 n=2 k=2") || !strings.Contains(err.Error(), "CUBLAS_STATUS_EXECUTION_FAILED") {
		t.Errorf("got %v", err)
	}
	s.Fail(t, "cuda", "cuMemAlloc_v2", cu.ErrorOutOfMemory)
	err = func() (err error) {
		defer func() { err, _ = recover().(error) }()
		be.Alloc(backend.BF16, 1<<20)
		return nil
	}()
	if err == nil || err.Error() != "cuda backend: Alloc: cuda: cuMemAlloc_v2(2097152): CUDA_ERROR_OUT_OF_MEMORY (out of memory)" {
		t.Errorf("got %v", err)
	}
	// Shapes the kernels cannot take are refused before any call.
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "head size ≤ 256") {
			t.Errorf("head size 512: %v", r)
		}
	}()
	be.Attention(x, nil, x, x, x, backend.AttnShape{B: 1, Tq: 1, Tk: 1, H: 1, KV: 1, HD: 512})
}

func TestStandInSharedMemoryAttribute(t *testing.T) {
	s, be := standinBackend(t, Options{})
	HD := 128
	q := upload(be, backend.BF16, seq(2*HD, 0.1))
	out := be.Alloc(backend.BF16, 2*HD)
	lse := be.Alloc(backend.F32, 2)
	sh := backend.AttnShape{B: 1, Tq: 2, Tk: 2, H: 1, KV: 1, HD: HD, Scale: 0.1}
	be.Attention(out, lse, q, q, q, sh)
	dq, dk, dv := be.Alloc(backend.BF16, 2*HD), be.Alloc(backend.BF16, 2*HD), be.Alloc(backend.BF16, 2*HD)
	be.AttentionBackward(dq, dk, dv, q, q, q, q, out, lse, sh)
	be.AttentionBackward(dq, dk, dv, q, q, q, q, out, lse, sh)
	attrs := s.Find(t, "cuFuncSetAttribute")
	got := map[string]int64{}
	for _, a := range attrs {
		got[a.Args["name"]] = a.Int("value")
	}
	want := map[string]int64{
		"smt_attn_bwd_dq_d4":  int64(4 * (2*32*(HD+1) + 2*16*HD)),
		"smt_attn_bwd_dkv_d4": int64(4 * (2*16*HD + 2*32*(HD+1) + 2*32)),
	}
	if len(attrs) != 2 || got["smt_attn_bwd_dq_d4"] != want["smt_attn_bwd_dq_d4"] || got["smt_attn_bwd_dkv_d4"] != want["smt_attn_bwd_dkv_d4"] {
		t.Errorf("shared memory attributes %v, want %v (once each)", got, want)
	}
	if p := s.Problems(t); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
}

func TestStandInConcurrentUse(t *testing.T) {
	s, be := standinBackend(t, Options{})
	const n = 300
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := upload(be, backend.F32, seq(n, 1))
			for i := 0; i < 10; i++ {
				be.Scale(x, 2, n)
			}
			got := make([]float32, n)
			be.Download(got, x)
			for i, v := range got {
				if v != float32(i%7-3)*1024 {
					t.Errorf("element %d = %v", i, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if p := s.Problems(t); len(p) > 0 {
		t.Errorf("problems (a call without a current context?): %v", p)
	}
}

func TestStandInSyncEachOp(t *testing.T) {
	s, be := standinBackend(t, Options{SyncEachOp: true})
	x := upload(be, backend.F32, seq(10, 1))
	s.Reset(t)
	be.Scale(x, 2, 10)
	be.Add(x, x, x, 10)
	if n := len(s.Find(t, "cuStreamSynchronize")); n != 2 {
		t.Errorf("%d synchronizations for 2 ops", n)
	}
}

func TestStandInUploadConversion(t *testing.T) {
	_, be := standinBackend(t, Options{})
	v := []float32{1, 1 + 1.0/256, -3.14159, 65504, 1e-8, float32(math.Inf(1))}
	for _, dt := range []backend.DType{backend.BF16, backend.F16, backend.F32} {
		b := upload(be, dt, v)
		got := make([]float32, len(v))
		be.Download(got, b)
		for i := range v {
			if want := roundTo(dt, v[i]); got[i] != want {
				t.Errorf("%s: %v → %v, want %v", dt, v[i], got[i], want)
			}
		}
	}
}
