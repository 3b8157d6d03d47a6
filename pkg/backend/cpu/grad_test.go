package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smt-go/smt/pkg/backend"
)

// The backward of every op is checked against central finite differences
// of L = Σ dout·f(inputs) in float64.

func randVec(r *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64() * scale
	}
	return v
}

func dotF(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// checkGrad compares analytic gradients with central differences of the
// scalar function f with respect to x (x is perturbed in place).
func checkGrad(t *testing.T, name string, x []float64, analytic []float64, f func() float64) {
	t.Helper()
	const h = 1e-6
	var worst, scale float64
	for i := range x {
		old := x[i]
		x[i] = old + h
		fp := f()
		x[i] = old - h
		fm := f()
		x[i] = old
		num := (fp - fm) / (2 * h)
		worst = math.Max(worst, math.Abs(num-analytic[i]))
		scale = math.Max(scale, math.Abs(num))
	}
	if rel := worst / math.Max(scale, 1e-12); rel > 1e-6 {
		t.Errorf("%s: max gradient error %.3g relative to max |grad| %.3g = %.3g > 1e-6", name, worst, scale, rel)
	}
}

func TestRMSNormBackwardFD(t *testing.T) {
	be := New64(2)
	r := rand.New(rand.NewPCG(1, 2))
	N, D := 5, 12
	x, w, dout := randVec(r, N*D, 1), randVec(r, D, 1), randVec(r, N*D, 1)
	out, rstd := make([]float64, N*D), make([]float64, N)
	f := func() float64 {
		be.RMSNorm(Wrap(out), Wrap(rstd), Wrap(x), Wrap(w), N, D, 1e-5)
		return dotF(out, dout)
	}
	f()
	dx, dw := randVec(r, N*D, 1), make([]float64, D)
	dx0 := append([]float64(nil), dx...)
	be.RMSNormBackward(Wrap(dx), Wrap(dw), Wrap(dout), Wrap(x), Wrap(w), Wrap(rstd), N, D)
	for i := range dx { // dx is accumulated: remove what was there
		dx[i] -= dx0[i]
	}
	checkGrad(t, "rmsnorm dx", x, dx, f)
	checkGrad(t, "rmsnorm dw", w, dw, f)
}

func TestRoPEInverseFD(t *testing.T) {
	be := New64(2)
	r := rand.New(rand.NewPCG(3, 4))
	N, nh, HD, P := 6, 3, 8, 10
	cos, sin := make([]float64, P*HD/2), make([]float64, P*HD/2)
	for i := range cos {
		a := r.Float64() * 6
		cos[i], sin[i] = math.Cos(a), math.Sin(a)
	}
	pos := []int32{0, 3, 9, 1, 1, 7}
	x, dout := randVec(r, N*nh*HD, 1), randVec(r, N*nh*HD, 1)
	y := make([]float64, len(x))
	f := func() float64 {
		copy(y, x)
		be.RoPE(Wrap(y), pos, Wrap(cos), Wrap(sin), N, nh, HD, false)
		return dotF(y, dout)
	}
	dx := append([]float64(nil), dout...)
	be.RoPE(Wrap(dx), pos, Wrap(cos), Wrap(sin), N, nh, HD, true)
	checkGrad(t, "rope", x, dx, f)
}

func TestSwiGLUBackwardFD(t *testing.T) {
	be := New64(2)
	r := rand.New(rand.NewPCG(5, 6))
	n := 40
	g, u, dout := randVec(r, n, 2), randVec(r, n, 1), randVec(r, n, 1)
	out := make([]float64, n)
	f := func() float64 {
		be.SwiGLU(Wrap(out), Wrap(g), Wrap(u), n)
		return dotF(out, dout)
	}
	dg, du := make([]float64, n), make([]float64, n)
	be.SwiGLUBackward(Wrap(dg), Wrap(du), Wrap(dout), Wrap(g), Wrap(u), n)
	checkGrad(t, "swiglu dgate", g, dg, f)
	checkGrad(t, "swiglu dup", u, du, f)
}

func TestCrossEntropyFD(t *testing.T) {
	be := New64(2)
	r := rand.New(rand.NewPCG(7, 8))
	N, V := 5, 11
	logits := randVec(r, N*V, 2)
	targets := []int32{3, -1, 0, 10, 7}
	losses := make([]float32, N)
	f := func() float64 {
		// Losses come back as float32; recompute in float64 for the check.
		var s float64
		for i := 0; i < N; i++ {
			if targets[i] < 0 {
				continue
			}
			row := logits[i*V : (i+1)*V]
			mx := row[0]
			for _, v := range row {
				mx = math.Max(mx, v)
			}
			var z float64
			for _, v := range row {
				z += math.Exp(v - mx)
			}
			s += 0.25 * (math.Log(z) + mx - row[targets[i]])
		}
		return s
	}
	g := append([]float64(nil), logits...)
	be.CrossEntropy(Wrap(g), targets, N, V, 0.25, losses)
	checkGrad(t, "cross-entropy", logits, g, f)
	for i := 0; i < N; i++ {
		if targets[i] < 0 && losses[i] != 0 {
			t.Errorf("ignored row %d has loss %g", i, losses[i])
		}
	}
}

func TestEmbeddingBackward(t *testing.T) {
	be := New64(1)
	r := rand.New(rand.NewPCG(9, 10))
	V, D := 7, 4
	table, dout := randVec(r, V*D, 1), randVec(r, 5*D, 1)
	ids := []int32{2, 6, 2, 0, 5}
	out := make([]float64, 5*D)
	f := func() float64 {
		be.Embedding(Wrap(out), Wrap(table), ids, D)
		return dotF(out, dout)
	}
	dt := make([]float64, V*D)
	be.EmbeddingBackward(Wrap(dt), Wrap(dout), ids, D)
	checkGrad(t, "embedding", table, dt, f)
}

func TestAttentionBackwardFD(t *testing.T) {
	be := New64(2)
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range []backend.AttnShape{
		{B: 2, Tq: 5, Tk: 5, H: 4, KV: 2, HD: 6},
		{B: 1, Tq: 7, Tk: 7, H: 3, KV: 1, HD: 4},
		{B: 2, Tq: 4, Tk: 4, H: 2, KV: 2, HD: 4, Start: []int32{0, 2}},
	} {
		s.Scale = float32(1 / math.Sqrt(float64(s.HD)))
		nq, nk := s.B*s.Tq*s.H*s.HD, s.B*s.Tk*s.KV*s.HD
		q, k, v, dout := randVec(r, nq, 1), randVec(r, nk, 1), randVec(r, nk, 1), randVec(r, nq, 1)
		out, lse := make([]float64, nq), make([]float64, s.B*s.H*s.Tq)
		f := func() float64 {
			be.Attention(Wrap(out), Wrap(lse), Wrap(q), Wrap(k), Wrap(v), s)
			return dotF(out, dout)
		}
		f()
		dq, dk, dv := randVec(r, nq, 1), randVec(r, nk, 1), randVec(r, nk, 1) // overwritten
		be.AttentionBackward(Wrap(dq), Wrap(dk), Wrap(dv), Wrap(dout), Wrap(q), Wrap(k), Wrap(v), Wrap(out), Wrap(lse), s)
		checkGrad(t, "attention dq", q, dq, f)
		checkGrad(t, "attention dk", k, dk, f)
		checkGrad(t, "attention dv", v, dv, f)
	}
}

// TestAttentionMatchesNaive compares the attention forward with a direct
// softmax(QKᵀ·scale + mask)·V over materialised matrices, including a KV
// cache read through its batch stride and queries at the end of the keys.
func TestAttentionMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, be32 := range []bool{false, true} {
		s := backend.AttnShape{B: 3, Tq: 3, Tk: 9, H: 4, KV: 2, HD: 8, Start: []int32{0, 4, 1}}
		Tmax := 12
		s.KVBatchStride = Tmax * s.KV * s.HD
		s.Scale = 0.3
		q := randVec(r, s.B*s.Tq*s.H*s.HD, 1)
		k := randVec(r, s.B*Tmax*s.KV*s.HD, 1)
		v := randVec(r, s.B*Tmax*s.KV*s.HD, 1)
		want := make([]float64, len(q))
		for b := 0; b < s.B; b++ {
			for h := 0; h < s.H; h++ {
				kh := h / (s.H / s.KV)
				for i := 0; i < s.Tq; i++ {
					qi := q[((b*s.Tq+i)*s.H+h)*s.HD:][:s.HD]
					var ws []float64
					var z float64
					for j := int(s.Start[b]); j <= s.Tk-s.Tq+i; j++ {
						e := math.Exp(float64(s.Scale) * dotF(qi, k[b*s.KVBatchStride+(j*s.KV+kh)*s.HD:][:s.HD]))
						ws = append(ws, e)
						z += e
					}
					for jj, e := range ws {
						j := int(s.Start[b]) + jj
						vj := v[b*s.KVBatchStride+(j*s.KV+kh)*s.HD:][:s.HD]
						for d := range vj {
							want[((b*s.Tq+i)*s.H+h)*s.HD+d] += e / z * vj[d]
						}
					}
				}
			}
		}
		var got []float64
		if be32 {
			f := func(x []float64) []float32 {
				o := make([]float32, len(x))
				for i, v := range x {
					o[i] = float32(v)
				}
				return o
			}
			out := make([]float32, len(q))
			New32(2).Attention(Wrap(out), nil, Wrap(f(q)), Wrap(f(k)), Wrap(f(v)), s)
			for _, x := range out {
				got = append(got, float64(x))
			}
		} else {
			got = make([]float64, len(q))
			New64(2).Attention(Wrap(got), nil, Wrap(q), Wrap(k), Wrap(v), s)
		}
		tol := 1e-12
		if be32 {
			tol = 1e-5
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > tol {
				t.Fatalf("f32=%v: out[%d] = %g, want %g", be32, i, got[i], want[i])
			}
		}
	}
}

func TestExp32(t *testing.T) {
	// Over the normal range the error must be within 2 float32 ulps.
	var worst float64
	for x := float32(-87); x < 88.7; x += 0.00731 {
		got := float64(Exp32(x))
		want := math.Exp(float64(x))
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 2.4e-7 {
		t.Errorf("Exp32 worst relative error %g > 2 ulp", worst)
	}
	// Subnormal results: absolute error within one and a half subnormal steps (the rounding of p plus the rounding to the subnormal grid).
	for x := float32(-103.9); x < -87.4; x += 0.01 {
		got, want := float64(Exp32(x)), math.Exp(float64(x))
		if math.Abs(got-want) > 1.5*0x1p-149 {
			t.Fatalf("Exp32(%g) = %g, want %g", x, got, want)
		}
	}
	if !math.IsInf(float64(Exp32(89)), 1) || Exp32(-104) != 0 || Exp32(0) != 1 {
		t.Errorf("Exp32 edge cases: %g %g %g", Exp32(89), Exp32(-104), Exp32(0))
	}
}

func TestExpSubSum(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{0, 1, 15, 16, 17, 100, 1000, 32000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 30)
		}
		if n > 3 {
			x[1], x[2], x[3] = -200, 150, float32(math.Inf(-1))
		}
		m := float32(5)
		want := make([]float64, n)
		var wsum float64
		for i, v := range x {
			e := float64(float32(math.Exp(float64(v - m)))) // overflow to +Inf, underflow to 0 as float32
			want[i] = e
			wsum += e
		}
		got := append([]float32(nil), x...)
		sum := ExpSubSum(got, m)
		for i := range want {
			if d := math.Abs(float64(got[i]) - want[i]); !(d <= 3e-7*want[i]+2e-45) && !(math.IsInf(want[i], 1) && math.IsInf(float64(got[i]), 1)) {
				t.Fatalf("n=%d: exp(%g−%g) = %g, want %g", n, x[i], m, got[i], want[i])
			}
		}
		if !(math.Abs(float64(sum)-wsum) <= 1e-5*wsum+1e-40) && !math.IsInf(wsum, 1) {
			t.Fatalf("n=%d: sum %g, want %g", n, sum, wsum)
		}
	}
}

// With OpenBLAS as the GEMM (when installed), the model's ops give the same
// results as with the Go GEMM.
func TestOpenBLASGemmMatches(t *testing.T) {
	saved, savedBlas := sgemmFunc, blas
	defer func() { sgemmFunc, blas = saved, savedBlas }()
	if err := UseOpenBLAS(); err != nil {
		t.Skip(err)
	}
	r := rand.New(rand.NewPCG(41, 42))
	m, n, k := 37, 53, 71
	a, b := to32(randVec(r, m*k, 1)), to32(randVec(r, k*n, 1))
	be := New32(2)
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	be.MatMul(false, false, m, n, k, 1, Wrap(a), k, Wrap(b), n, 0, Wrap(c1), n)
	sgemmFunc = saved
	be.MatMul(false, false, m, n, k, 1, Wrap(a), k, Wrap(b), n, 0, Wrap(c2), n)
	for i := range c1 {
		if math.Abs(float64(c1[i]-c2[i])) > 1e-4 {
			t.Fatalf("element %d: OpenBLAS %g, Go %g", i, c1[i], c2[i])
		}
	}
}
