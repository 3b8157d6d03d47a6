// Cross-entropy with ignored rows (fused softmax, loss and gradient) and
// row-wise argmax.
#include "common.cuh"

// smt_cross_entropy: for row i with target t = targets[i] ≥ 0, losses[i] =
// log Σ_j exp(x_j) − x_t, and when gradScale ≠ 0 the row is overwritten
// with gradScale·(softmax(x) − onehot(t)). Rows with t < 0 get loss 0 and
// (when gradScale ≠ 0) a zero gradient. One block per row. dts: logits.
extern "C" __global__ void smt_cross_entropy(void* logits, const int* targets, float* losses, int dts, int N, int V,
                                             float gradScale) {
  __shared__ float red[32];
  const int xd = dtof(dts, 0);
  for (int i = blockIdx.x; i < N; i += gridDim.x) {
    const i64 row = (i64)i * V;
    const int t = targets[i];
    if (t < 0) {
      if (gradScale != 0.f)
        for (int j = threadIdx.x; j < V; j += blockDim.x) st(logits, xd, row + j, 0.f);
      if (threadIdx.x == 0) losses[i] = 0.f;
      continue;
    }
    const float xt = ld(logits, xd, row + t);
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, ld(logits, xd, row + j));
    mx = block_max(mx, red);
    float sum = 0.f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) sum += expf(ld(logits, xd, row + j) - mx);
    sum = block_sum(sum, red);
    if (threadIdx.x == 0) losses[i] = logf(sum) + mx - xt;
    if (gradScale != 0.f) {
      const float sc = gradScale / sum;
      for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float g = expf(ld(logits, xd, row + j) - mx) * sc;
        if (j == t) g -= gradScale;
        st(logits, xd, row + j, g);
      }
    }
    __syncthreads(); // every thread has read the row before the next row's work
  }
}

// smt_argmax: out[i] = the first index of the largest value of row i (NaN
// never wins). One block per row.
extern "C" __global__ void smt_argmax(int* out, const void* x, int dts, int N, int V) {
  __shared__ float rv[32];
  __shared__ int ri[32];
  const int xd = dtof(dts, 0);
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int i = blockIdx.x; i < N; i += gridDim.x) {
    const i64 row = (i64)i * V;
    float bv = -INFINITY;
    int bi = V;  // "none yet": loses every comparison of equal values
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
      const float v = ld(x, xd, row + j);
      if (v > bv || (bi == V && v == bv)) { bv = v; bi = j; }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(FULL_MASK, bv, o);
      const int oi = __shfl_xor_sync(FULL_MASK, bi, o);
      if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
    }
    if (lane == 0) { rv[w] = bv; ri[w] = bi; }
    __syncthreads();
    if (w == 0) {
      bv = lane < nw ? rv[lane] : -INFINITY;
      bi = lane < nw ? ri[lane] : V;
      for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(FULL_MASK, bv, o);
        const int oi = __shfl_xor_sync(FULL_MASK, bi, o);
        if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
      }
      if (lane == 0) out[i] = bi < V ? bi : 0;
    }
    __syncthreads();
  }
}

EMU_REGISTER(smt_cross_entropy)
EMU_REGISTER(smt_argmax)
