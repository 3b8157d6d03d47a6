// Helpers shared by the SMT kernels: element types, loads and stores that
// convert to and from float, and warp and block reductions.
//
// Every buffer argument of a kernel may be fp32, bf16 or fp16: the kernel
// receives a packed code `dts` holding the type of its k-th buffer argument
// in bits 4k..4k+3 (the codes are backend.DType's values), and converts on
// load and store. All arithmetic is fp32 (fp64 where a sum says so).
//
// Built two ways: by nvcc to PTX for the GPU, and, with SMT_EMU defined, by
// a host C++ compiler against emu.h, the CPU emulator the CI stand-in
// libcuda runs kernels with. Code here therefore keeps warp-level
// operations in warp-uniform control flow (as __shfl_*_sync with a full mask
// requires anyway) and never returns early from a kernel that later calls
// __syncthreads.
#pragma once

#ifdef SMT_EMU
#include "emu.h"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define DYN_SMEM(T, name) extern __shared__ T name[]
#define EMU_REGISTER(name)
#endif

typedef long long i64;

#define DT_F32 0
#define DT_BF16 2
#define DT_F16 3

#define FULL_MASK 0xffffffffu

// dtof returns the type code of buffer argument k.
__device__ __forceinline__ int dtof(int dts, int k) { return (dts >> (4 * k)) & 15; }

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

// ld reads element i of p as float.
__device__ __forceinline__ float ld(const void* p, int dt, i64 i) {
  if (dt == DT_BF16) return __bfloat162float(((const __nv_bfloat16*)p)[i]);
  if (dt == DT_F16) return __half2float(((const __half*)p)[i]);
  return ((const float*)p)[i];
}

// st writes v to element i of p, rounding to nearest even when narrowing.
__device__ __forceinline__ void st(void* p, int dt, i64 i, float v) {
  if (dt == DT_BF16) {
    ((__nv_bfloat16*)p)[i] = __float2bfloat16_rn(v);
  } else if (dt == DT_F16) {
    ((__half*)p)[i] = __float2half_rn(v);
  } else {
    ((float*)p)[i] = v;
  }
}

// roundto rounds v to the precision of type dt.
__device__ __forceinline__ float roundto(int dt, float v) {
  if (dt == DT_BF16) return __bfloat162float(__float2bfloat16_rn(v));
  if (dt == DT_F16) return __half2float(__float2half_rn(v));
  return v;
}

// warp_sum and warp_max reduce over the 32 lanes of a warp; every lane gets
// the result (a butterfly, so every lane computes the same sum).
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
  return v;
}

// block_sum reduces over the block (blockDim.x a multiple of 32, at most
// 1024); every thread gets the result. red is __shared__ scratch of 32.
__device__ __forceinline__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  if (lane == 0) red[w] = v;
  __syncthreads();
  if (w == 0) {
    v = lane < nw ? red[lane] : 0.f;
    v = warp_sum(v);
    if (lane == 0) red[0] = v;
  }
  __syncthreads();
  v = red[0];
  __syncthreads();
  return v;
}

__device__ __forceinline__ double block_sum_d(double v, double* red) {
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum_d(v);
  if (lane == 0) red[w] = v;
  __syncthreads();
  if (w == 0) {
    v = lane < nw ? red[lane] : 0.0;
    v = warp_sum_d(v);
    if (lane == 0) red[0] = v;
  }
  __syncthreads();
  v = red[0];
  __syncthreads();
  return v;
}

__device__ __forceinline__ float block_max(float v, float* red) {
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  if (lane == 0) red[w] = v;
  __syncthreads();
  if (w == 0) {
    v = lane < nw ? red[lane] : -INFINITY;
    v = warp_max(v);
    if (lane == 0) red[0] = v;
  }
  __syncthreads();
  v = red[0];
  __syncthreads();
  return v;
}

// GRID_STRIDE loops i over [0, n) with every thread of the grid.
#define GRID_STRIDE(i, n) \
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)
