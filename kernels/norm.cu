// RMSNorm forward and backward. One block per row for the row-wise parts;
// the weight gradient is a column reduction done in two deterministic
// passes (per-chunk partial sums, then their ordered sum).
#include "common.cuh"

// smt_rmsnorm: rstd[i] = 1/√(mean(x_i²) + eps); out[i, j] = w[j]·(x[i, j]·
// rstd[i]). When out is narrower than fp32, x·rstd is rounded to out's type
// before the multiplication by w, as Hugging Face's LlamaRMSNorm does
// (hidden.to(input_dtype) then weight·hidden). rstd may be NULL.
// dts: out, rstd, x, w.
extern "C" __global__ void smt_rmsnorm(void* out, void* rstd, const void* x, const void* w, int dts, int N, int D, float eps) {
  __shared__ float red[32];
  const int od = dtof(dts, 0), rd = dtof(dts, 1), xd = dtof(dts, 2), wd = dtof(dts, 3);
  for (int i = blockIdx.x; i < N; i += gridDim.x) {
    const i64 row = (i64)i * D;
    float ss = 0.f;
    for (int j = threadIdx.x; j < D; j += blockDim.x) {
      const float v = ld(x, xd, row + j);
      ss += v * v;
    }
    ss = block_sum(ss, red);
    const float r = 1.f / sqrtf(ss / (float)D + eps);
    if (rstd != 0 && threadIdx.x == 0) st(rstd, rd, i, r);
    for (int j = threadIdx.x; j < D; j += blockDim.x) {
      const float t = roundto(od, ld(x, xd, row + j) * r);
      st(out, od, row + j, ld(w, wd, j) * t);
    }
  }
}

// smt_rmsnorm_bwd_dx: dx[i] += r·w⊙dy − (Σ_j w_j·dy_j·x_j)·r³/D · x, with
// r = rstd[i] (dx accumulated). dts: dx, dout, x, w, rstd.
extern "C" __global__ void smt_rmsnorm_bwd_dx(void* dx, const void* dout, const void* x, const void* w, const void* rstd,
                                              int dts, int N, int D) {
  __shared__ float red[32];
  const int dxd = dtof(dts, 0), dyd = dtof(dts, 1), xd = dtof(dts, 2), wd = dtof(dts, 3), rd = dtof(dts, 4);
  for (int i = blockIdx.x; i < N; i += gridDim.x) {
    const i64 row = (i64)i * D;
    const float r = ld(rstd, rd, i);
    float dot = 0.f;
    for (int j = threadIdx.x; j < D; j += blockDim.x) dot += ld(w, wd, j) * ld(dout, dyd, row + j) * ld(x, xd, row + j);
    dot = block_sum(dot, red);
    const float c = dot * r * r * r / (float)D;
    for (int j = threadIdx.x; j < D; j += blockDim.x) {
      const float g = r * ld(w, wd, j) * ld(dout, dyd, row + j) - c * ld(x, xd, row + j);
      st(dx, dxd, row + j, ld(dx, dxd, row + j) + g);
    }
  }
}

// smt_rmsnorm_bwd_dw_partial: partial[c, j] = Σ_{i in chunk c} dy[i, j]·
// x[i, j]·rstd[i], chunks of rowsPerChunk rows. Grid: x over column chunks
// of blockDim.x, y over row chunks. dts: dout, x, rstd.
extern "C" __global__ void smt_rmsnorm_bwd_dw_partial(float* partial, const void* dout, const void* x, const void* rstd,
                                                      int dts, int N, int D, int rowsPerChunk) {
  const int dyd = dtof(dts, 0), xd = dtof(dts, 1), rd = dtof(dts, 2);
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= D) return;
  const int c = blockIdx.y, i0 = c * rowsPerChunk, i1 = imin(N, i0 + rowsPerChunk);
  float s = 0.f;
  for (int i = i0; i < i1; i++) s += ld(dout, dyd, (i64)i * D + j) * ld(x, xd, (i64)i * D + j) * ld(rstd, rd, i);
  partial[(i64)c * D + j] = s;
}

// smt_rmsnorm_bwd_dw_reduce: dw[j] += Σ_c partial[c, j] (in order).
// dts: dw.
extern "C" __global__ void smt_rmsnorm_bwd_dw_reduce(void* dw, const float* partial, int dts, int chunks, int D) {
  const int wd = dtof(dts, 0);
  GRID_STRIDE(j, D) {
    float s = 0.f;
    for (int c = 0; c < chunks; c++) s += partial[(i64)c * D + j];
    st(dw, wd, j, ld(dw, wd, j) + s);
  }
}

EMU_REGISTER(smt_rmsnorm)
EMU_REGISTER(smt_rmsnorm_bwd_dx)
EMU_REGISTER(smt_rmsnorm_bwd_dw_partial)
EMU_REGISTER(smt_rmsnorm_bwd_dw_reduce)
