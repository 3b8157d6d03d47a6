// Elementwise kernels: casts, add, add-abs, scale, strided 2-D copy,
// sum of squares, SwiGLU forward and backward, and the AdamW update.
// Launched with a grid-stride loop over n elements (1-D blocks).
#include "common.cuh"

// smt_cast: dst[i] = src[i] converted. dts: dst, src.
extern "C" __global__ void smt_cast(void* dst, const void* src, int dts, i64 n) {
  const int dd = dtof(dts, 0), sd = dtof(dts, 1);
  GRID_STRIDE(i, n) st(dst, dd, i, ld(src, sd, i));
}

// smt_add: out[i] = a[i] + b[i] (out may alias a or b). dts: out, a, b.
extern "C" __global__ void smt_add(void* out, const void* a, const void* b, int dts, i64 n) {
  const int od = dtof(dts, 0), ad = dtof(dts, 1), bd = dtof(dts, 2);
  GRID_STRIDE(i, n) st(out, od, i, ld(a, ad, i) + ld(b, bd, i));
}

// smt_addabs: out[i] = a[i] + |b[i]|. dts: out, a, b.
extern "C" __global__ void smt_addabs(void* out, const void* a, const void* b, int dts, i64 n) {
  const int od = dtof(dts, 0), ad = dtof(dts, 1), bd = dtof(dts, 2);
  GRID_STRIDE(i, n) st(out, od, i, ld(a, ad, i) + fabsf(ld(b, bd, i)));
}

// smt_scale: x[i] *= s. dts: x.
extern "C" __global__ void smt_scale(void* x, float s, int dts, i64 n) {
  const int xd = dtof(dts, 0);
  GRID_STRIDE(i, n) st(x, xd, i, ld(x, xd, i) * s);
}

// smt_copy2d: dst[r·dstStride + c] = src[r·srcStride + c] for r < rows,
// c < cols. Grid: x over column chunks, y over rows (grid-stride in both).
// dts: dst, src.
extern "C" __global__ void smt_copy2d(void* dst, i64 dstStride, const void* src, i64 srcStride, int dts, i64 rows, i64 cols) {
  const int dd = dtof(dts, 0), sd = dtof(dts, 1);
  for (i64 r = blockIdx.y; r < rows; r += gridDim.y) {
    for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (i64)blockDim.x * gridDim.x) {
      st(dst, dd, r * dstStride + c, ld(src, sd, r * srcStride + c));
    }
  }
}

// smt_sumsq: partial[blockIdx.x] = Σ x² over the block's grid-stride share,
// in fp64. The host adds the partials in order, so the result does not
// depend on scheduling. dts: x.
extern "C" __global__ void smt_sumsq(double* partial, const void* x, int dts, i64 n) {
  __shared__ double red[32];
  const int xd = dtof(dts, 0);
  double s = 0.0;
  GRID_STRIDE(i, n) {
    const double v = ld(x, xd, i);
    s += v * v;
  }
  s = block_sum_d(s, red);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// smt_swiglu: out = silu(gate)·up. dts: out, gate, up.
extern "C" __global__ void smt_swiglu(void* out, const void* gate, const void* up, int dts, i64 n) {
  const int od = dtof(dts, 0), gd = dtof(dts, 1), ud = dtof(dts, 2);
  GRID_STRIDE(i, n) {
    const float x = ld(gate, gd, i);
    st(out, od, i, x / (1.f + expf(-x)) * ld(up, ud, i));
  }
}

// smt_swiglu_bwd: dup = dout·silu(gate), dgate = dout·up·silu'(gate).
// dts: dgate, dup, dout, gate, up.
extern "C" __global__ void smt_swiglu_bwd(void* dgate, void* dup, const void* dout, const void* gate, const void* up, int dts, i64 n) {
  const int dgd = dtof(dts, 0), dud = dtof(dts, 1), dod = dtof(dts, 2), gd = dtof(dts, 3), ud = dtof(dts, 4);
  GRID_STRIDE(i, n) {
    const float x = ld(gate, gd, i), d = ld(dout, dod, i), u = ld(up, ud, i);
    const float sig = 1.f / (1.f + expf(-x));
    st(dup, dud, i, d * (x * sig));
    st(dgate, dgd, i, d * u * sig * (1.f + x * (1.f - sig)));
  }
}

// smt_adamw: PyTorch's AdamW on n parameters: p ← p·decay, m ← β1·m +
// (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − stepSize·m / (√v / bc2s + eps),
// with stepSize = lr / (1 − β1^t), bc2s = √(1 − β2^t) and decay =
// 1 − lr·wd computed on the host. dts: p, g, m, v.
extern "C" __global__ void smt_adamw(void* p, const void* g, void* m, void* v, int dts, i64 n,
                                     float b1, float b2, float stepSize, float bc2s, float decay, float eps) {
  const int pd = dtof(dts, 0), gd = dtof(dts, 1), md = dtof(dts, 2), vd = dtof(dts, 3);
  GRID_STRIDE(i, n) {
    const float gi = ld(g, gd, i);
    const float pi = ld(p, pd, i) * decay;
    const float mi = b1 * ld(m, md, i) + (1.f - b1) * gi;
    const float vi = b2 * ld(v, vd, i) + (1.f - b2) * gi * gi;
    st(m, md, i, mi);
    st(v, vd, i, vi);
    const float denom = sqrtf(vi) / bc2s + eps;
    st(p, pd, i, pi - stepSize * mi / denom);
  }
}

EMU_REGISTER(smt_cast)
EMU_REGISTER(smt_add)
EMU_REGISTER(smt_addabs)
EMU_REGISTER(smt_scale)
EMU_REGISTER(smt_copy2d)
EMU_REGISTER(smt_sumsq)
EMU_REGISTER(smt_swiglu)
EMU_REGISTER(smt_swiglu_bwd)
EMU_REGISTER(smt_adamw)
