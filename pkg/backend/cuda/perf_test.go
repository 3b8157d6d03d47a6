package cuda

import (
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/smt-go/smt/pkg/backend"
)

// TestDeterminism runs the ops with reductions twice on the same inputs:
// the results must be bit-identical (resuming a training run bit for bit
// depends on it).
func TestDeterminism(t *testing.T) {
	e := openEngine(t)
	be := e.be
	B, T, H, KV, HD := 2, 40, 4, 2, 32
	if e.kind == "gpu" {
		B, T, H, KV, HD = 4, 256, 8, 2, 128
	}
	s := backend.AttnShape{B: B, Tq: T, Tk: T, H: H, KV: KV, HD: HD, Scale: float32(1 / math.Sqrt(float64(HD)))}
	nq, nkv := B*T*H*HD, B*T*KV*HD
	rnd := func(dt backend.DType, n int) backend.Buf {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(i)*0.7+float64(n))) * 1.5
		}
		b := be.Alloc(dt, n)
		be.Upload(b, v)
		return b
	}
	q, k, v, dout := rnd(backend.BF16, nq), rnd(backend.BF16, nkv), rnd(backend.BF16, nkv), rnd(backend.BF16, nq)
	out, lse := be.Alloc(backend.BF16, nq), be.Alloc(backend.F32, B*H*T)
	be.Attention(out, lse, q, k, v, s)
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32(i * 7 % 11)
	}
	tb := backend.BlockTable{Size: 16, Out: H * HD, In: KV * HD, Rows: []int32{0, 1, 2}, Cols: []int32{0, 1, 1}}
	run := func() [][]float32 {
		dq, dk, dv := be.Alloc(backend.BF16, nq), be.Alloc(backend.BF16, nkv), be.Alloc(backend.BF16, nkv)
		be.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s)
		demb := be.Alloc(backend.F32, 11*KV*HD)
		be.EmbeddingBackward(demb, k, ids, KV*HD)
		bg := be.Alloc(backend.F32, 3*16*16)
		be.BlockGrad(bg, 0, q, H*HD, k, KV*HD, B*T, tb, []int32{0, 16, 16})
		dx, dw := be.Alloc(backend.BF16, nkv), be.Alloc(backend.F32, KV*HD)
		rstd := be.Alloc(backend.F32, B*T)
		be.RMSNorm(be.Alloc(backend.BF16, nkv), rstd, k, dw, B*T, KV*HD, 1e-5)
		be.RMSNormBackward(dx, dw, v, k, v, rstd, B*T, KV*HD)
		var res [][]float32
		for _, b := range []backend.Buf{dq, dk, dv, demb, bg, dx, dw} {
			h := make([]float32, b.Len())
			be.Download(h, b)
			res = append(res, h)
		}
		return res
	}
	a, b := run(), run()
	names := []string{"AttentionBackward dq", "AttentionBackward dk", "AttentionBackward dv", "EmbeddingBackward", "BlockGrad", "RMSNormBackward dx", "RMSNormBackward dw"}
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				t.Errorf("%s differs between two runs at %d: %v, %v", names[i], j, a[i][j], b[i][j])
				break
			}
		}
	}
}

// TestGPUPerf times a few training-shaped operations on a GPU (it skips
// elsewhere) and reports throughput, for BENCHMARKS.md and the MFU target:
// a LLaMA-7B-shaped projection GEMM and the attention of a 16×512 batch.
func TestGPUPerf(t *testing.T) {
	e := openEngine(t)
	if e.kind != "gpu" {
		t.Skip("needs a GPU")
	}
	be := e.be
	timeit := func(reps int, f func()) time.Duration {
		f() // warm up (and JIT)
		be.Sync()
		t0 := time.Now()
		for i := 0; i < reps; i++ {
			f()
		}
		be.Sync()
		return time.Since(t0) / time.Duration(reps)
	}
	var lines []string
	report := func(format string, args ...any) {
		l := fmt.Sprintf(format, args...)
		lines = append(lines, l)
		t.Log(l)
	}
	// y [8192, 4096] = x [8192, 4096] · Wᵀ, W [4096, 4096] (bf16, fp32 accumulation).
	M, N, K := 8192, 4096, 4096
	x, w, y := be.Alloc(backend.BF16, M*K), be.Alloc(backend.BF16, N*K), be.Alloc(backend.BF16, M*N)
	d := timeit(10, func() { be.MatMul(false, true, M, N, K, 1, x, K, w, K, 0, y, N) })
	report("GEMM bf16 %d×%d×%d: %.3f ms, %.0f TFLOP/s", M, N, K, d.Seconds()*1e3, 2*float64(M)*float64(N)*float64(K)/d.Seconds()/1e12)
	be.Free(x)
	be.Free(w)
	be.Free(y)
	// Attention, LLaMA-7B layer shape: B=16, T=512, H=32, HD=128.
	B, T, H, HD := 16, 512, 32, 128
	s := backend.AttnShape{B: B, Tq: T, Tk: T, H: H, KV: H, HD: HD, Scale: float32(1 / math.Sqrt(float64(HD)))}
	n := B * T * H * HD
	q, k, v, out, dout := be.Alloc(backend.BF16, n), be.Alloc(backend.BF16, n), be.Alloc(backend.BF16, n), be.Alloc(backend.BF16, n), be.Alloc(backend.BF16, n)
	lse := be.Alloc(backend.F32, B*H*T)
	flops := 4 * float64(B) * float64(H) * float64(T) * float64(T) / 2 * float64(HD) // causal
	d = timeit(5, func() { be.Attention(out, lse, q, k, v, s) })
	report("attention forward B=%d T=%d H=%d HD=%d: %.3f ms, %.1f TFLOP/s", B, T, H, HD, d.Seconds()*1e3, flops/d.Seconds()/1e12)
	dq, dk, dv := be.Alloc(backend.BF16, n), be.Alloc(backend.BF16, n), be.Alloc(backend.BF16, n)
	d = timeit(3, func() { be.AttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s) })
	report("attention backward: %.3f ms, %.1f TFLOP/s", d.Seconds()*1e3, 2.5*flops/d.Seconds()/1e12)
	m := be.Memory()
	report("device memory: backend peak %.2f GiB, device used %.2f of %.2f GiB", float64(m.Peak)/(1<<30), float64(m.DeviceUsed)/(1<<30), float64(m.DeviceTotal)/(1<<30))
	if out := os.Getenv("SMT_PERF_OUT"); out != "" {
		f, err := os.Create(out)
		if err == nil {
			for _, l := range lines {
				fmt.Fprintln(f, l)
			}
			f.Close()
		}
	}
}
