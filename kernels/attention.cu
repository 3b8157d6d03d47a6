// Causal grouped-query attention, forward and backward, as fused
// flash-style kernels (no T×T score matrix in memory): K/V (or Q/dO) tiles
// are staged in shared memory as fp32, scores and probabilities live in
// registers, the softmax is computed online, and all arithmetic is fp32.
//
// Shapes follow backend.AttnShape: q, out, dq [B, Tq, H, HD]; k, v, dk, dv
// [B, ·, KV, HD] with sequence b at element b·kvs; query i sits at
// position Tk−Tq+i and sees keys start[b] ≤ j ≤ Tk−Tq+i (start NULL: 0).
// Query head h reads key/value head h / (H/KV). lse [B, H, Tq].
//
// Work split. A warp owns query rows; its 32 lanes take one key each for
// the dot products (so the softmax of a tile is one warp reduction) and one
// head dimension each (d = lane + 32·t, t < DPL) for the accumulations,
// where the probabilities are broadcast with __shfl_sync. DPL is a template
// parameter (HD ≤ 32·DPL) so accumulators stay in registers; the kernels
// are instantiated for DPL = 1, 2, 4, 8 (HD ≤ 256).
//
// The backward is deterministic: dq comes from one kernel over query tiles
// and dk, dv from another over key tiles (each output element has a single
// writer, no atomics), after a pass computing Di = dO_i·O_i.
#include "common.cuh"

#define ATT_BQ 16   // queries per block (forward and dq)
#define ATT_BK 32   // keys per shared-memory tile (forward and dq)
#define ATT_WARPS 4 // 128 threads
#define ATT_QPW (ATT_BQ / ATT_WARPS)

#define KV_BK 16    // keys per block (dk, dv)
#define KV_BQ 32    // queries per shared-memory tile (dk, dv)
#define KV_KPW (KV_BK / ATT_WARPS)

__device__ __forceinline__ float dotf(const float* a, const float* b, int n) {
  float s = 0.f;
  for (int d = 0; d < n; d++) s += a[d] * b[d];
  return s;
}

// Forward. Grid: x = B·H, y = ⌈Tq/ATT_BQ⌉; 128 threads; dynamic shared
// memory (ATT_BK·(HD+1) + ATT_BK·HD + ATT_BQ·HD)·4 bytes.
// dts: out, lse, q, k, v.
template <int DPL>
__device__ __forceinline__ void attn_fwd(void* out, void* lse, const void* q, const void* k, const void* v, const int* start,
                                         int dts, int B, int Tq, int Tk, int H, int KV, int HD, i64 kvs, float scale) {
  DYN_SMEM(float, sm);
  const int HDp = HD + 1;
  float* Ks = sm;                 // [ATT_BK][HD+1]
  float* Vs = Ks + ATT_BK * HDp;  // [ATT_BK][HD]
  float* Qs = Vs + ATT_BK * HD;   // [ATT_BQ][HD]
  const int od = dtof(dts, 0), lsd = dtof(dts, 1), qd = dtof(dts, 2), kd = dtof(dts, 3), vd = dtof(dts, 4);
  const int b = blockIdx.x / H, h = blockIdx.x % H, kh = h / (H / KV);
  const int i0 = blockIdx.y * ATT_BQ;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int off = Tk - Tq;
  const int st0 = start ? start[b] : 0;
  const i64 kbase = (i64)b * kvs + (i64)kh * HD, kstride = (i64)KV * HD;

  for (int idx = tid; idx < ATT_BQ * HD; idx += blockDim.x) {
    const int qi = idx / HD, d = idx - qi * HD, i = i0 + qi;
    Qs[idx] = i < Tq ? ld(q, qd, (((i64)b * Tq + i) * H + h) * HD + d) : 0.f;
  }
  float m[ATT_QPW], l[ATT_QPW], acc[ATT_QPW][DPL];
#pragma unroll
  for (int t = 0; t < ATT_QPW; t++) {
    m[t] = -INFINITY;
    l[t] = 0.f;
#pragma unroll
    for (int u = 0; u < DPL; u++) acc[t][u] = 0.f;
  }
  const int jend = imin(Tk, off + imin(i0 + ATT_BQ, Tq));  // keys < jend are seen by some query of the block
  for (int j0 = st0; j0 < jend; j0 += ATT_BK) {
    __syncthreads();
    for (int idx = tid; idx < ATT_BK * HD; idx += blockDim.x) {
      const int jj = idx / HD, d = idx - jj * HD, j = j0 + jj;
      float kv = 0.f, vv = 0.f;
      if (j < jend) {
        kv = ld(k, kd, kbase + j * kstride + d);
        vv = ld(v, vd, kbase + j * kstride + d);
      }
      Ks[jj * HDp + d] = kv;
      Vs[jj * HD + d] = vv;
    }
    __syncthreads();
#pragma unroll
    for (int t = 0; t < ATT_QPW; t++) {
      const int qi = warp * ATT_QPW + t, i = i0 + qi;
      const int hi = off + i;  // the query's last key
      if (i >= Tq || hi < j0) continue;  // warp-uniform
      const int nk = imin(ATT_BK, hi - j0 + 1);
      float s = -INFINITY;
      if (lane < nk) s = dotf(Qs + qi * HD, Ks + lane * HDp, HD) * scale;
      const float mnew = fmaxf(m[t], warp_max(s));
      const float corr = expf(m[t] - mnew);
      const float p = lane < nk ? expf(s - mnew) : 0.f;
      l[t] = l[t] * corr + warp_sum(p);
#pragma unroll
      for (int u = 0; u < DPL; u++) acc[t][u] *= corr;
      for (int jj = 0; jj < nk; jj++) {
        const float pj = __shfl_sync(FULL_MASK, p, jj);
#pragma unroll
        for (int u = 0; u < DPL; u++) {
          const int d = lane + 32 * u;
          if (d < HD) acc[t][u] += pj * Vs[jj * HD + d];
        }
      }
      m[t] = mnew;
    }
  }
#pragma unroll
  for (int t = 0; t < ATT_QPW; t++) {
    const int i = i0 + warp * ATT_QPW + t;
    if (i >= Tq) continue;
    const i64 row = (((i64)b * Tq + i) * H + h) * HD;
    const bool empty = l[t] == 0.f;  // no visible keys (left padding)
    const float inv = empty ? 0.f : 1.f / l[t];
#pragma unroll
    for (int u = 0; u < DPL; u++) {
      const int d = lane + 32 * u;
      if (d < HD) st(out, od, row + d, acc[t][u] * inv);
    }
    if (lse != 0 && lane == 0) st(lse, lsd, ((i64)b * H + h) * Tq + i, empty ? 0.f : m[t] + logf(l[t]));
  }
}

// smt_attn_bwd_prep: Di[b, h, i] = Σ_d dout[b, i, h, d]·out[b, i, h, d]
// (fp32). One warp per row. dts: dout, out.
extern "C" __global__ void smt_attn_bwd_prep(float* Di, const void* dout, const void* out, int dts, int B, int Tq, int H, int HD) {
  const int dod = dtof(dts, 0), od = dtof(dts, 1);
  const int lane = threadIdx.x & 31;
  const i64 rows = (i64)B * Tq * H;
  const i64 r = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (r >= rows) return;  // warp-uniform; no block barrier follows
  float s = 0.f;
  for (int d = lane; d < HD; d += 32) s += ld(dout, dod, r * HD + d) * ld(out, od, r * HD + d);
  s = warp_sum(s);
  const int h = (int)(r % H);
  const i64 bi = r / H;  // b·Tq + i
  const int i = (int)(bi % Tq), b = (int)(bi / Tq);
  if (lane == 0) Di[((i64)b * H + h) * Tq + i] = s;
}

// dq. Grid as the forward; dynamic shared memory
// (2·ATT_BK·(HD+1) + 2·ATT_BQ·HD)·4 bytes. dts: dq, q, k, v, dout, lse.
template <int DPL>
__device__ __forceinline__ void attn_bwd_dq(void* dq, const void* q, const void* k, const void* v, const void* dout, const void* lse,
                                            const float* Di, const int* start, int dts, int B, int Tq, int Tk, int H, int KV,
                                            int HD, i64 kvs, float scale) {
  DYN_SMEM(float, sm);
  const int HDp = HD + 1;
  float* Ks = sm;                  // [ATT_BK][HD+1]
  float* Vs = Ks + ATT_BK * HDp;   // [ATT_BK][HD+1]
  float* Qs = Vs + ATT_BK * HDp;   // [ATT_BQ][HD]
  float* dOs = Qs + ATT_BQ * HD;   // [ATT_BQ][HD]
  const int dqd = dtof(dts, 0), qd = dtof(dts, 1), kd = dtof(dts, 2), vd = dtof(dts, 3), dod = dtof(dts, 4), lsd = dtof(dts, 5);
  const int b = blockIdx.x / H, h = blockIdx.x % H, kh = h / (H / KV);
  const int i0 = blockIdx.y * ATT_BQ;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int off = Tk - Tq;
  const int st0 = start ? start[b] : 0;
  const i64 kbase = (i64)b * kvs + (i64)kh * HD, kstride = (i64)KV * HD;

  for (int idx = tid; idx < ATT_BQ * HD; idx += blockDim.x) {
    const int qi = idx / HD, d = idx - qi * HD, i = i0 + qi;
    const i64 g = (((i64)b * Tq + i) * H + h) * HD + d;
    Qs[idx] = i < Tq ? ld(q, qd, g) : 0.f;
    dOs[idx] = i < Tq ? ld(dout, dod, g) : 0.f;
  }
  float L[ATT_QPW], Dv[ATT_QPW], acc[ATT_QPW][DPL];
#pragma unroll
  for (int t = 0; t < ATT_QPW; t++) {
    const int i = i0 + warp * ATT_QPW + t;
    const i64 li = ((i64)b * H + h) * Tq + i;
    L[t] = i < Tq ? ld(lse, lsd, li) : 0.f;
    Dv[t] = i < Tq ? Di[li] : 0.f;
#pragma unroll
    for (int u = 0; u < DPL; u++) acc[t][u] = 0.f;
  }
  const int jend = imin(Tk, off + imin(i0 + ATT_BQ, Tq));
  for (int j0 = st0; j0 < jend; j0 += ATT_BK) {
    __syncthreads();
    for (int idx = tid; idx < ATT_BK * HD; idx += blockDim.x) {
      const int jj = idx / HD, d = idx - jj * HD, j = j0 + jj;
      float kv = 0.f, vv = 0.f;
      if (j < jend) {
        kv = ld(k, kd, kbase + j * kstride + d);
        vv = ld(v, vd, kbase + j * kstride + d);
      }
      Ks[jj * HDp + d] = kv;
      Vs[jj * HDp + d] = vv;
    }
    __syncthreads();
#pragma unroll
    for (int t = 0; t < ATT_QPW; t++) {
      const int qi = warp * ATT_QPW + t, i = i0 + qi;
      const int hi = off + i;
      if (i >= Tq || hi < j0) continue;
      const int nk = imin(ATT_BK, hi - j0 + 1);
      float ds = 0.f;
      if (lane < nk) {
        const float p = expf(dotf(Qs + qi * HD, Ks + lane * HDp, HD) * scale - L[t]);
        const float dp = dotf(dOs + qi * HD, Vs + lane * HDp, HD);
        ds = p * (dp - Dv[t]) * scale;
      }
      for (int jj = 0; jj < nk; jj++) {
        const float dsj = __shfl_sync(FULL_MASK, ds, jj);
#pragma unroll
        for (int u = 0; u < DPL; u++) {
          const int d = lane + 32 * u;
          if (d < HD) acc[t][u] += dsj * Ks[jj * HDp + d];
        }
      }
    }
  }
#pragma unroll
  for (int t = 0; t < ATT_QPW; t++) {
    const int i = i0 + warp * ATT_QPW + t;
    if (i >= Tq) continue;
    const i64 row = (((i64)b * Tq + i) * H + h) * HD;
#pragma unroll
    for (int u = 0; u < DPL; u++) {
      const int d = lane + 32 * u;
      if (d < HD) st(dq, dqd, row + d, acc[t][u]);
    }
  }
}

// dk, dv. Grid: x = B·KV, y = ⌈Tk/KV_BK⌉; 128 threads; dynamic shared
// memory (2·KV_BK·HD + 2·KV_BQ·(HD+1) + 2·KV_BQ)·4 bytes. Each warp owns
// KV_KPW keys; lanes take one query each for the dot products. Every key
// row j < Tk of dk and dv is written (zero when no query sees it).
// dts: dk, dv, q, k, v, dout, lse.
template <int DPL>
__device__ __forceinline__ void attn_bwd_dkv(void* dk, void* dv, const void* q, const void* k, const void* v, const void* dout,
                                             const void* lse, const float* Di, const int* start, int dts, int B, int Tq, int Tk,
                                             int H, int KV, int HD, i64 kvs, float scale) {
  DYN_SMEM(float, sm);
  const int HDp = HD + 1;
  float* Ks = sm;                   // [KV_BK][HD]
  float* Vs = Ks + KV_BK * HD;      // [KV_BK][HD]
  float* Qs = Vs + KV_BK * HD;      // [KV_BQ][HD+1]
  float* dOs = Qs + KV_BQ * HDp;    // [KV_BQ][HD+1]
  float* Ls = dOs + KV_BQ * HDp;    // [KV_BQ]
  float* Ds = Ls + KV_BQ;           // [KV_BQ]
  const int dkd = dtof(dts, 0), dvd = dtof(dts, 1), qd = dtof(dts, 2), kd = dtof(dts, 3), vd = dtof(dts, 4), dod = dtof(dts, 5),
            lsd = dtof(dts, 6);
  const int b = blockIdx.x / KV, kh = blockIdx.x % KV, group = H / KV;
  const int j0 = blockIdx.y * KV_BK;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int off = Tk - Tq;
  const int st0 = start ? start[b] : 0;
  const i64 kbase = (i64)b * kvs + (i64)kh * HD, kstride = (i64)KV * HD;

  for (int idx = tid; idx < KV_BK * HD; idx += blockDim.x) {
    const int jj = idx / HD, d = idx - jj * HD, j = j0 + jj;
    Ks[idx] = j < Tk ? ld(k, kd, kbase + j * kstride + d) : 0.f;
    Vs[idx] = j < Tk ? ld(v, vd, kbase + j * kstride + d) : 0.f;
  }
  float gk[KV_KPW][DPL], gv[KV_KPW][DPL];
#pragma unroll
  for (int t = 0; t < KV_KPW; t++) {
#pragma unroll
    for (int u = 0; u < DPL; u++) gk[t][u] = gv[t][u] = 0.f;
  }
  const int ifirst = imax(0, j0 - off);  // the first query that sees key j0
  if (j0 + KV_BK > st0) {
    for (int g = 0; g < group; g++) {
      const int h = kh * group + g;
      for (int iq0 = ifirst; iq0 < Tq; iq0 += KV_BQ) {
        __syncthreads();
        for (int idx = tid; idx < KV_BQ * HD; idx += blockDim.x) {
          const int ii = idx / HD, d = idx - ii * HD, i = iq0 + ii;
          const i64 gi = (((i64)b * Tq + i) * H + h) * HD + d;
          Qs[ii * HDp + d] = i < Tq ? ld(q, qd, gi) : 0.f;
          dOs[ii * HDp + d] = i < Tq ? ld(dout, dod, gi) : 0.f;
        }
        for (int ii = tid; ii < KV_BQ; ii += blockDim.x) {
          const int i = iq0 + ii;
          const i64 li = ((i64)b * H + h) * Tq + i;
          Ls[ii] = i < Tq ? ld(lse, lsd, li) : 0.f;
          Ds[ii] = i < Tq ? Di[li] : 0.f;
        }
        __syncthreads();
        const int nq = imin(KV_BQ, Tq - iq0);
#pragma unroll
        for (int t = 0; t < KV_KPW; t++) {
          const int jl = warp * KV_KPW + t, j = j0 + jl;
          if (j >= Tk || j < st0) continue;  // warp-uniform
          const int i = iq0 + lane;
          float p = 0.f, ds = 0.f;
          if (i < Tq && j <= off + i) {
            p = expf(dotf(Qs + lane * HDp, Ks + jl * HD, HD) * scale - Ls[lane]);
            const float dp = dotf(dOs + lane * HDp, Vs + jl * HD, HD);
            ds = p * (dp - Ds[lane]) * scale;
          }
          for (int ii = 0; ii < nq; ii++) {
            const float pi = __shfl_sync(FULL_MASK, p, ii);
            const float dsi = __shfl_sync(FULL_MASK, ds, ii);
#pragma unroll
            for (int u = 0; u < DPL; u++) {
              const int d = lane + 32 * u;
              if (d < HD) {
                gv[t][u] += pi * dOs[ii * HDp + d];
                gk[t][u] += dsi * Qs[ii * HDp + d];
              }
            }
          }
        }
      }
    }
  }
#pragma unroll
  for (int t = 0; t < KV_KPW; t++) {
    const int j = j0 + warp * KV_KPW + t;
    if (j >= Tk) continue;
    const i64 row = kbase + j * kstride;
#pragma unroll
    for (int u = 0; u < DPL; u++) {
      const int d = lane + 32 * u;
      if (d < HD) {
        st(dk, dkd, row + d, gk[t][u]);
        st(dv, dvd, row + d, gv[t][u]);
      }
    }
  }
}

#define ATT_KERNELS(SUF, DPL)                                                                                                     \
  extern "C" __global__ void __launch_bounds__(128)                                                                             \
      smt_attn_fwd_##SUF(void* out, void* lse, const void* q, const void* k, const void* v, const int* start, int dts, int B,    \
                         int Tq, int Tk, int H, int KV, int HD, i64 kvs, float scale) {                                          \
    attn_fwd<DPL>(out, lse, q, k, v, start, dts, B, Tq, Tk, H, KV, HD, kvs, scale);                                             \
  }                                                                                                                               \
  extern "C" __global__ void __launch_bounds__(128)                                                                             \
      smt_attn_bwd_dq_##SUF(void* dq, const void* q, const void* k, const void* v, const void* dout, const void* lse,           \
                            const float* Di, const int* start, int dts, int B, int Tq, int Tk, int H, int KV, int HD, i64 kvs,  \
                            float scale) {                                                                                        \
    attn_bwd_dq<DPL>(dq, q, k, v, dout, lse, Di, start, dts, B, Tq, Tk, H, KV, HD, kvs, scale);                                 \
  }                                                                                                                               \
  extern "C" __global__ void __launch_bounds__(128)                                                                             \
      smt_attn_bwd_dkv_##SUF(void* dk, void* dv, const void* q, const void* k, const void* v, const void* dout, const void* lse, \
                             const float* Di, const int* start, int dts, int B, int Tq, int Tk, int H, int KV, int HD, i64 kvs, \
                             float scale) {                                                                                       \
    attn_bwd_dkv<DPL>(dk, dv, q, k, v, dout, lse, Di, start, dts, B, Tq, Tk, H, KV, HD, kvs, scale);                           \
  }                                                                                                                               \
  EMU_REGISTER(smt_attn_fwd_##SUF)                                                                                                \
  EMU_REGISTER(smt_attn_bwd_dq_##SUF)                                                                                             \
  EMU_REGISTER(smt_attn_bwd_dkv_##SUF)

ATT_KERNELS(d1, 1)
ATT_KERNELS(d2, 2)
ATT_KERNELS(d4, 4)
ATT_KERNELS(d8, 8)

EMU_REGISTER(smt_attn_bwd_prep)
