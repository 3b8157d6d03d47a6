// SMT block gather and scatter: block i of W [Out, In] is
// W[rows[i]·S : +S, cols[i]·S : +S]; the packed side is [k, S, S].
#include "common.cuh"

// smt_gather_blocks: dst[i, r, c] = w[rows[i]·S + r, cols[i]·S + c].
// Grid: x over the S rows of a block, y over blocks. dts: dst, w.
extern "C" __global__ void smt_gather_blocks(void* dst, const void* w, const int* rows, const int* cols, int dts, int S, i64 In) {
  const int dd = dtof(dts, 0), wd = dtof(dts, 1);
  const int r = blockIdx.x, i = blockIdx.y;
  const i64 src = ((i64)rows[i] * S + r) * In + (i64)cols[i] * S, dst0 = ((i64)i * S + r) * S;
  for (int c = threadIdx.x; c < S; c += blockDim.x) st(dst, dd, dst0 + c, ld(w, wd, src + c));
}

// smt_scatter_blocks: w[rows[i]·S + r, cols[i]·S + c] = src[i, r, c].
// dts: w, src.
extern "C" __global__ void smt_scatter_blocks(void* w, const void* src, const int* rows, const int* cols, int dts, int S, i64 In) {
  const int wd = dtof(dts, 0), sd = dtof(dts, 1);
  const int r = blockIdx.x, i = blockIdx.y;
  const i64 dst = ((i64)rows[i] * S + r) * In + (i64)cols[i] * S, src0 = ((i64)i * S + r) * S;
  for (int c = threadIdx.x; c < S; c += blockDim.x) st(w, wd, dst + c, ld(src, sd, src0 + c));
}

EMU_REGISTER(smt_gather_blocks)
EMU_REGISTER(smt_scatter_blocks)
