// emu.h: just enough of CUDA C++ for the SMT kernels to run on the CPU, in
// the stand-in libcuda the CI tests load. Each CUDA thread of a block is a
// fiber (ucontext) on one OS thread, switched cooperatively at barriers;
// blocks of a launch run one after another. __syncthreads is a barrier over
// the block's threads, and warp shuffles exchange values through a
// per-warp buffer between two barriers over the warp's threads, so kernels
// must call them in warp-uniform control flow, as they must on the GPU
// with a full mask.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

struct emu_dim3 { unsigned x, y, z; };
extern thread_local emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static

void* emu_dyn_smem();
void emu_syncthreads();
#define DYN_SMEM(T, name) T* name = (T*)emu_dyn_smem()
#define __syncthreads() emu_syncthreads()

struct emu_warp {
  void* bar;
  uint64_t slot[32];
};
extern thread_local emu_warp* emu_cur_warp;
extern thread_local int emu_lane;
void emu_warp_sync(emu_warp* w);

template <typename T>
static inline T emu_exchange(T v, int src) {
  static_assert(sizeof(T) <= 8, "shuffle of a value over 8 bytes");
  memcpy(&emu_cur_warp->slot[emu_lane], &v, sizeof(T));
  emu_warp_sync(emu_cur_warp);
  T r;
  memcpy(&r, &emu_cur_warp->slot[src & 31], sizeof(T));
  emu_warp_sync(emu_cur_warp);
  return r;
}
template <typename T> static inline T __shfl_sync(unsigned, T v, int src) { return emu_exchange(v, src); }
template <typename T> static inline T __shfl_xor_sync(unsigned, T v, int m) { return emu_exchange(v, emu_lane ^ m); }

struct __nv_bfloat16 { uint16_t x; };
static inline float __bfloat162float(__nv_bfloat16 h) {
  uint32_t u = (uint32_t)h.x << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  __nv_bfloat16 h;
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    h.x = (uint16_t)((u >> 16) | 0x40);
    return h;
  }
  u += 0x7fffu + ((u >> 16) & 1u);
  h.x = (uint16_t)(u >> 16);
  return h;
}
typedef _Float16 __half;
static inline float __half2float(__half h) { return (float)h; }
static inline __half __float2half_rn(float f) { return (__half)f; }

// Kernel registry: EMU_REGISTER(name) makes name launchable by the
// stand-in's cuLaunchKernel, unpacking the void** parameters into the
// kernel's own parameter types.
#include <utility>
#include <type_traits>
typedef void (*emu_invoker)(void* fn, void** params);
void emu_register(const char* name, void* fn, emu_invoker inv);

template <typename... A, size_t... I>
static void emu_call_impl(void (*f)(A...), void** p, std::index_sequence<I...>) {
  f(*(typename std::decay<A>::type*)p[I]...);
}
template <typename... A>
static void emu_invoke(void* fn, void** p) {
  emu_call_impl((void (*)(A...))fn, p, std::index_sequence_for<A...>{});
}
template <typename... A>
static emu_invoker emu_invoker_for(void (*)(A...)) { return &emu_invoke<A...>; }

#define EMU_REGISTER(name) \
  static int emu_reg_##name = (emu_register(#name, (void*)&name, emu_invoker_for(&name)), 0);
