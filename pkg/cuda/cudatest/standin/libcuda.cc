// Stand-in libcuda.so.1 for the CI tests: the driver API functions the
// bindings use, with the same C signatures. It records each call and its
// arguments in a log, returns chosen status codes on request, and behaves
// enough like a device for the backend to run:
//   - "device memory" is host memory (a CUdeviceptr is a host address), with
//     a canary after each allocation checked at frees and synchronizations;
//     copies and memsets outside an allocation fail;
//   - a calling thread must have a current context (cuCtxSetCurrent), as on
//     the real driver;
//   - PTX modules are parsed for their .entry signatures: cuModuleGetFunction
//     fails for a missing kernel, and cuLaunchKernel checks that the
//     parameter pointers match the kernel's parameter count, sizes and C
//     alignment (the bindings pack arguments like a C struct and end the
//     array with NULL), and that dynamic shared memory over 48 KiB was
//     enabled with cuFuncSetAttribute;
//   - kernels registered by the emulated build of kernels/*.cu run on the
//     CPU (see emu.h).
#include <setjmp.h>
#include <stdint.h>
#include <ucontext.h>
#include <stdlib.h>

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "emu.h"
#include "standin.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

STANDIN_CONTROL(cuda)

static int g_devices = 1;
static int g_version = 12040;
extern "C" void standin_cuda_setup(int devices, int version) {
  g_devices = devices;
  g_version = version;
}

// ---------------------------------------------------------------- memory

static const size_t kCanary = 64;
static std::map<uintptr_t, size_t> g_allocs;
static std::mutex g_mem;
static size_t g_allocated;
static const size_t kTotal = 80ull << 30;

static bool canary_ok(uintptr_t p, size_t n) {
  const unsigned char* c = (const unsigned char*)(p + n);
  for (size_t i = 0; i < kCanary; i++)
    if (c[i] != 0xC5) return false;
  return true;
}

static CUresult check_canaries(const char* where) {
  std::lock_guard<std::mutex> g(g_mem);
  for (auto& a : g_allocs) {
    if (!canary_ok(a.first, a.second)) {
      standin_log("CANARY where=%s ptr=%#llx bytes=%zu", where, (unsigned long long)a.first, a.second);
      return 700;  // CUDA_ERROR_ILLEGAL_ADDRESS
    }
  }
  return 0;
}

// inside reports whether [p, p+n) lies in one live allocation.
static bool inside(CUdeviceptr p, size_t n) {
  std::lock_guard<std::mutex> g(g_mem);
  auto it = g_allocs.upper_bound((uintptr_t)p);
  if (it == g_allocs.begin()) return false;
  --it;
  return (uintptr_t)p >= it->first && (uintptr_t)p + n <= it->first + it->second;
}

// ---------------------------------------------------------------- contexts

static thread_local void* t_ctx;

#define NEED_CTX()                                        \
  do {                                                    \
    if (!t_ctx) {                                         \
      standin_log("NOCTX fn=%s", __func__);               \
      return 201; /* CUDA_ERROR_INVALID_CONTEXT */        \
    }                                                     \
  } while (0)

#define CHECK_RANGE(p, n)                                                                     \
  do {                                                                                        \
    if (!inside((p), (n))) {                                                                  \
      standin_log("BADPTR fn=%s ptr=%#llx bytes=%zu", __func__, (unsigned long long)(p), (size_t)(n)); \
      return 1; /* CUDA_ERROR_INVALID_VALUE */                                                \
    }                                                                                         \
  } while (0)

extern "C" {

CUresult cuInit(unsigned flags) {
  FAIL();
  standin_log("cuInit flags=%u", flags);
  return 0;
}

CUresult cuDriverGetVersion(int* v) {
  FAIL();
  *v = g_version;
  return 0;
}

CUresult cuDeviceGetCount(int* n) {
  FAIL();
  *n = g_devices;
  return 0;
}

CUresult cuDeviceGet(int* d, int ordinal) {
  FAIL();
  standin_log("cuDeviceGet ordinal=%d", ordinal);
  if (ordinal < 0 || ordinal >= g_devices) return 101;  // CUDA_ERROR_INVALID_DEVICE
  *d = ordinal;
  return 0;
}

CUresult cuDeviceGetName(char* name, int len, int dev) {
  FAIL();
  standin_log("cuDeviceGetName len=%d dev=%d", len, dev);
  snprintf(name, len, "Stand-in GPU %d", dev);
  return 0;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, int dev) {
  FAIL();
  *bytes = kTotal;
  return 0;
}

CUresult cuDeviceGetAttribute(int* v, int attr, int dev) {
  FAIL();
  standin_log("cuDeviceGetAttribute attr=%d dev=%d", attr, dev);
  switch (attr) {
    case 1: *v = 1024; break;        // max threads per block
    case 8: *v = 48 * 1024; break;   // shared memory per block
    case 16: *v = 4; break;          // multiprocessors
    case 75: *v = 8; break;          // compute capability 8.0
    case 76: *v = 0; break;
    case 97: *v = 227 * 1024; break; // opt-in shared memory per block
    default: *v = 0;
  }
  return 0;
}

CUresult cuDevicePrimaryCtxRetain(void** ctx, int dev) {
  FAIL();
  standin_log("cuDevicePrimaryCtxRetain dev=%d", dev);
  *ctx = (void*)(uintptr_t)(0xC0DE00 + dev);
  return 0;
}

CUresult cuDevicePrimaryCtxRelease_v2(int dev) {
  FAIL();
  standin_log("cuDevicePrimaryCtxRelease_v2 dev=%d", dev);
  return 0;
}

CUresult cuCtxSetCurrent(void* ctx) {
  FAIL();
  t_ctx = ctx;
  return 0;
}

CUresult cuCtxGetCurrent(void** ctx) {
  FAIL();
  *ctx = t_ctx;
  return 0;
}

CUresult cuCtxSynchronize(void) {
  FAIL();
  NEED_CTX();
  standin_log("cuCtxSynchronize");
  return check_canaries("cuCtxSynchronize");
}

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  FAIL();
  NEED_CTX();
  unsigned char* m = (unsigned char*)malloc(n + kCanary);
  if (!m) return 2;
  memset(m, 0xFF, n);  // NaN in every float type: reading unwritten memory shows
  memset(m + n, 0xC5, kCanary);
  {
    std::lock_guard<std::mutex> g(g_mem);
    g_allocs[(uintptr_t)m] = n;
    g_allocated += n;
  }
  *p = (CUdeviceptr)(uintptr_t)m;
  standin_log("cuMemAlloc_v2 bytes=%zu ptr=%#llx", n, *p);
  return 0;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
  FAIL();
  NEED_CTX();
  size_t n;
  {
    std::lock_guard<std::mutex> g(g_mem);
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) {
      standin_log("BADFREE ptr=%#llx", p);
      return 1;
    }
    n = it->second;
    if (!canary_ok(it->first, n)) {
      standin_log("CANARY where=cuMemFree_v2 ptr=%#llx bytes=%zu", p, n);
      return 700;
    }
    g_allocs.erase(it);
    g_allocated -= n;
  }
  free((void*)(uintptr_t)p);
  standin_log("cuMemFree_v2 ptr=%#llx bytes=%zu", p, n);
  return 0;
}

CUresult cuMemGetInfo_v2(size_t* freeB, size_t* total) {
  FAIL();
  NEED_CTX();
  std::lock_guard<std::mutex> g(g_mem);
  *total = kTotal;
  *freeB = kTotal - g_allocated;
  return 0;
}

CUresult cuMemAllocHost_v2(void** p, size_t n) {
  FAIL();
  NEED_CTX();
  *p = malloc(n);
  standin_log("cuMemAllocHost_v2 bytes=%zu", n);
  return *p ? 0 : 2;
}

CUresult cuMemFreeHost(void* p) {
  FAIL();
  free(p);
  return 0;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(dst, n);
  memcpy((void*)(uintptr_t)dst, src, n);
  standin_log("cuMemcpyHtoD_v2 dst=%#llx bytes=%zu", dst, n);
  return 0;
}

CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(src, n);
  memcpy(dst, (const void*)(uintptr_t)src, n);
  standin_log("cuMemcpyDtoH_v2 src=%#llx bytes=%zu", src, n);
  return 0;
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(dst, n);
  CHECK_RANGE(src, n);
  memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n);
  standin_log("cuMemcpyDtoD_v2 dst=%#llx src=%#llx bytes=%zu", dst, src, n);
  return 0;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, void* stream) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(dst, n);
  memcpy((void*)(uintptr_t)dst, src, n);
  standin_log("cuMemcpyHtoDAsync_v2 dst=%#llx bytes=%zu stream=%p", dst, n, stream);
  return 0;
}

CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, void* stream) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(src, n);
  memcpy(dst, (const void*)(uintptr_t)src, n);
  standin_log("cuMemcpyDtoHAsync_v2 src=%#llx bytes=%zu stream=%p", src, n, stream);
  return 0;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void* stream) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(dst, n);
  CHECK_RANGE(src, n);
  memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n);
  standin_log("cuMemcpyDtoDAsync_v2 dst=%#llx src=%#llx bytes=%zu stream=%p", dst, src, n, stream);
  return 0;
}

CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(p, n);
  memset((void*)(uintptr_t)p, v, n);
  standin_log("cuMemsetD8_v2 ptr=%#llx value=%u count=%zu", p, v, n);
  return 0;
}

CUresult cuMemsetD16_v2(CUdeviceptr p, unsigned short v, size_t n) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(p, 2 * n);
  for (size_t i = 0; i < n; i++) ((unsigned short*)(uintptr_t)p)[i] = v;
  standin_log("cuMemsetD16_v2 ptr=%#llx value=%u count=%zu", p, v, n);
  return 0;
}

CUresult cuMemsetD32_v2(CUdeviceptr p, unsigned v, size_t n) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(p, 4 * n);
  for (size_t i = 0; i < n; i++) ((unsigned*)(uintptr_t)p)[i] = v;
  standin_log("cuMemsetD32_v2 ptr=%#llx value=%u count=%zu", p, v, n);
  return 0;
}

CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, void* stream) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(p, n);
  memset((void*)(uintptr_t)p, v, n);
  standin_log("cuMemsetD8Async ptr=%#llx value=%u count=%zu stream=%p", p, v, n, stream);
  return 0;
}

CUresult cuMemsetD32Async(CUdeviceptr p, unsigned v, size_t n, void* stream) {
  FAIL();
  NEED_CTX();
  CHECK_RANGE(p, 4 * n);
  for (size_t i = 0; i < n; i++) ((unsigned*)(uintptr_t)p)[i] = v;
  standin_log("cuMemsetD32Async ptr=%#llx value=%u count=%zu stream=%p", p, v, n, stream);
  return 0;
}

static std::atomic<uintptr_t> g_handles{0x5000};

CUresult cuStreamCreate(void** s, unsigned flags) {
  FAIL();
  NEED_CTX();
  *s = (void*)(g_handles += 16);
  standin_log("cuStreamCreate flags=%u stream=%p", flags, *s);
  return 0;
}

CUresult cuStreamDestroy_v2(void* s) {
  FAIL();
  standin_log("cuStreamDestroy_v2 stream=%p", s);
  return 0;
}

CUresult cuStreamSynchronize(void* s) {
  FAIL();
  NEED_CTX();
  standin_log("cuStreamSynchronize stream=%p", s);
  return check_canaries("cuStreamSynchronize");
}

CUresult cuEventCreate(void** e, unsigned flags) {
  FAIL();
  NEED_CTX();
  *e = (void*)(g_handles += 16);
  standin_log("cuEventCreate flags=%u event=%p", flags, *e);
  return 0;
}

CUresult cuEventRecord(void* e, void* s) {
  FAIL();
  standin_log("cuEventRecord event=%p stream=%p", e, s);
  return 0;
}

CUresult cuEventSynchronize(void* e) {
  FAIL();
  standin_log("cuEventSynchronize event=%p", e);
  return 0;
}

CUresult cuEventElapsedTime(float* ms, void* a, void* b) {
  FAIL();
  standin_log("cuEventElapsedTime start=%p end=%p", a, b);
  *ms = 1.5f;
  return 0;
}

CUresult cuEventDestroy_v2(void* e) {
  FAIL();
  standin_log("cuEventDestroy_v2 event=%p", e);
  return 0;
}

// ---------------------------------------------------------------- modules

struct Param {
  int size;
  char kind;  // 'u' integer or pointer, 'f' float
};
struct Func {
  std::string name;
  std::vector<Param> params;
  int maxShared = 48 * 1024;
};
struct Mod {
  std::string ptx;
};

// parse_entry finds ".entry name(" in ptx and reads its parameter list.
static bool parse_entry(const std::string& ptx, const std::string& name, std::vector<Param>* out) {
  std::string key = ".entry " + name + "(";
  size_t at = ptx.find(key);
  if (at == std::string::npos) return false;
  size_t end = ptx.find(')', at);
  std::string list = ptx.substr(at + key.size(), end - at - key.size());
  size_t pos = 0;
  while ((pos = list.find(".param", pos)) != std::string::npos) {
    pos += 6;
    size_t t = list.find('.', pos);
    std::string ty = list.substr(t + 1, 3);
    Param p;
    p.kind = ty[0] == 'f' ? 'f' : 'u';
    p.size = atoi(ty.c_str() + 1) / 8;
    out->push_back(p);
  }
  return true;
}

CUresult cuModuleLoadDataEx(void** m, const void* image, unsigned n, int* opts, void** vals) {
  FAIL();
  NEED_CTX();
  std::string s((const char*)image);
  std::string optlist;
  for (unsigned i = 0; i < n; i++) optlist += (i ? "," : "") + std::to_string(opts[i]);
  standin_log("cuModuleLoadDataEx bytes=%zu nopts=%u opts=%s", s.size(), n, optlist.c_str());
  if (s.find(".version") == std::string::npos || s.find(".target") == std::string::npos) {
    for (unsigned i = 0; i < n; i++) {
      if (opts[i] == 5) {  // CU_JIT_ERROR_LOG_BUFFER
        size_t cap = 0;
        for (unsigned k = 0; k < n; k++)
          if (opts[k] == 6) cap = (size_t)(uintptr_t)vals[k];
        if (cap) snprintf((char*)vals[i], cap, "stand-in: the image is not PTX");
      }
    }
    return 218;  // CUDA_ERROR_INVALID_PTX
  }
  Mod* mod = new Mod;
  mod->ptx = s;
  *m = mod;
  return 0;
}

CUresult cuModuleLoadData(void** m, const void* image) { return cuModuleLoadDataEx(m, image, 0, 0, 0); }

CUresult cuModuleUnload(void* m) {
  FAIL();
  standin_log("cuModuleUnload");
  delete (Mod*)m;
  return 0;
}

CUresult cuModuleGetFunction(void** f, void* m, const char* name) {
  FAIL();
  NEED_CTX();
  Func* fn = new Func;
  fn->name = name;
  if (!parse_entry(((Mod*)m)->ptx, name, &fn->params)) {
    standin_log("cuModuleGetFunction name=%s found=0", name);
    delete fn;
    return 500;  // CUDA_ERROR_NOT_FOUND
  }
  standin_log("cuModuleGetFunction name=%s found=1 params=%zu", name, fn->params.size());
  *f = fn;
  return 0;
}

CUresult cuFuncSetAttribute(void* f, int attr, int value) {
  FAIL();
  Func* fn = (Func*)f;
  standin_log("cuFuncSetAttribute name=%s attr=%d value=%d", fn->name.c_str(), attr, value);
  if (attr == 8) {
    if (value > 227 * 1024) return 1;
    fn->maxShared = value;
  }
  return 0;
}

}  // extern "C"

// ---------------------------------------------------------------- emulator

static std::map<std::string, std::pair<void*, emu_invoker>>& registry() {
  static std::map<std::string, std::pair<void*, emu_invoker>> r;
  return r;
}

void emu_register(const char* name, void* fn, emu_invoker inv) { registry()[name] = {fn, inv}; }

thread_local emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
thread_local emu_warp* emu_cur_warp;
thread_local int emu_lane;

// The fiber scheduler: one launch at a time (launches are serialized by
// g_launch), all on the launching thread. Fiber t plays thread t of every
// block of a launch in turn (a block-wide barrier separates the blocks) and
// stays alive between launches, so a launch costs no system calls once the
// fibers exist.
struct Barrier {
  int count = 0, arrived = 0;
  unsigned gen = 0;
};
// A fiber starts with makecontext/setcontext and then switches with
// _setjmp/_longjmp, which (unlike swapcontext) make no system call.
struct Fiber {
  ucontext_t ctx;
  jmp_buf jb;
  unsigned tid;
  unsigned long block;  // the block it is running
  bool started, done;
};
static std::mutex g_launch;
static jmp_buf g_sched;
static std::vector<Fiber> g_fibers;
static std::vector<char*> g_stacks;
static Fiber* g_cur;
static Barrier g_blockbar;
static std::vector<Barrier> g_warpbars;
static std::vector<emu_warp> g_warps;
static void* g_smem;
static unsigned long g_progress, g_nblocks;
static void* g_fn;
static emu_invoker g_inv;
static void** g_params;
static const size_t kStack = 256 << 10;

static void yield_to_scheduler() {
  if (!_setjmp(g_cur->jb)) _longjmp(g_sched, 1);
}

static void barrier_wait(Barrier* b) {
  unsigned gen = b->gen;
  g_progress++;
  if (++b->arrived == b->count) {
    b->arrived = 0;
    b->gen++;
    return;
  }
  while (b->gen == gen) yield_to_scheduler();
}

void* emu_dyn_smem() { return g_smem; }
void emu_syncthreads() { barrier_wait(&g_blockbar); }
void emu_warp_sync(emu_warp* w) { barrier_wait((Barrier*)w->bar); }

static void set_block(unsigned long b) {
  blockIdx = {(unsigned)(b % gridDim.x), (unsigned)(b / gridDim.x % gridDim.y), (unsigned)(b / gridDim.x / gridDim.y)};
}

static void fiber_main() {
  for (;;) {
    for (unsigned long b = 0; b < g_nblocks; b++) {
      g_cur->block = b;
      set_block(b);
      g_inv(g_fn, g_params);
      barrier_wait(&g_blockbar);  // every thread is done with the block's shared memory
    }
    g_cur->done = true;
    g_progress++;
    yield_to_scheduler();  // resumed by the next launch
  }
}

// run runs a launch's fibers to completion; false on a deadlock (threads
// waiting at barriers the others never reach).
static bool run(unsigned nthreads) {
  for (unsigned t = 0; t < nthreads; t++) {
    Fiber& f = g_fibers[t];
    f.tid = t;
    f.done = false;
    if (!f.started) {
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = g_stacks[t];
      f.ctx.uc_stack.ss_size = kStack;
      f.ctx.uc_link = 0;
      makecontext(&f.ctx, fiber_main, 0);
    }
  }
  g_blockbar = Barrier();
  g_blockbar.count = nthreads;
  for (size_t w = 0; w < g_warpbars.size(); w++) {
    g_warpbars[w] = Barrier();
    g_warpbars[w].count = nthreads - 32 * w < 32 ? nthreads - 32 * w : 32;
  }
  unsigned alive = nthreads;
  while (alive > 0) {
    unsigned long before = g_progress;
    for (unsigned t = 0; t < nthreads; t++) {
      Fiber& f = g_fibers[t];
      if (f.done) continue;
      g_cur = &f;
      threadIdx = {f.tid, 0, 0};
      emu_lane = f.tid % 32;
      emu_cur_warp = &g_warps[f.tid / 32];
      if (f.started) set_block(f.block);
      if (!_setjmp(g_sched)) {
        if (!f.started) {
          f.started = true;
          setcontext(&f.ctx);
        }
        _longjmp(f.jb, 1);
      }
      if (f.done) alive--;
    }
    if (alive > 0 && g_progress == before) {
      for (unsigned t = 0; t < nthreads; t++) g_fibers[t].started = false;  // abandon them
      return false;
    }
  }
  return true;
}

static bool emulate(Func* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned shmem, void** params) {
  auto it = registry().find(fn->name);
  if (it == registry().end()) {
    standin_log("NOEMU name=%s", fn->name.c_str());
    return true;
  }
  std::lock_guard<std::mutex> lock(g_launch);
  g_fn = it->second.first;
  g_inv = it->second.second;
  g_params = params;
  while (g_stacks.size() < bx) g_stacks.push_back((char*)malloc(kStack));
  if (g_fibers.size() < bx) {
    std::vector<Fiber> more(bx - g_fibers.size());
    for (auto& f : more) f.started = false;
    // Fibers hold their own context: grow without moving started ones.
    for (auto& f : g_fibers)
      if (f.started) f.started = false;  // restart everything after a resize
    g_fibers.insert(g_fibers.end(), more.begin(), more.end());
  }
  size_t nw = (bx + 31) / 32;
  g_warpbars.assign(nw, Barrier());
  g_warps.assign(nw, emu_warp());
  for (size_t w = 0; w < nw; w++) g_warps[w].bar = &g_warpbars[w];
  g_smem = calloc(shmem + 16, 1);
  blockDim = {bx, 1, 1};
  gridDim = {gx, gy, gz};
  g_nblocks = (unsigned long)gx * gy * gz;
  bool ok = run(bx);
  if (!ok) standin_log("EMU-DEADLOCK name=%s", fn->name.c_str());
  free(g_smem);
  return ok;
}

extern "C" CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                   unsigned shmem, void* stream, void** params, void** extra) {
  FAIL();
  NEED_CTX();
  Func* fn = (Func*)f;
  std::string vals;
  size_t off = 0;
  bool ok = params != 0 && extra == 0;
  for (size_t i = 0; ok && i < fn->params.size(); i++) {
    const Param& p = fn->params[i];
    off = (off + p.size - 1) / p.size * p.size;
    if (params[i] == 0 || (char*)params[i] - (char*)params[0] != (ptrdiff_t)off) {
      ok = false;
      break;
    }
    off += p.size;
    char buf[64];
    if (p.kind == 'f' && p.size == 4)
      snprintf(buf, sizeof buf, " p%zu=%g", i, *(float*)params[i]);
    else if (p.kind == 'f')
      snprintf(buf, sizeof buf, " p%zu=%g", i, *(double*)params[i]);
    else if (p.size == 8)
      snprintf(buf, sizeof buf, " p%zu=%#llx", i, *(unsigned long long*)params[i]);
    else
      snprintf(buf, sizeof buf, " p%zu=%d", i, *(int*)params[i]);
    vals += buf;
  }
  if (ok && params[fn->params.size()] != 0) ok = false;  // more arguments than parameters
  if (!ok) {
    standin_log("PARAMS-MISMATCH name=%s want=%zu", fn->name.c_str(), fn->params.size());
    return 1;
  }
  standin_log("cuLaunchKernel name=%s grid=%ux%ux%u block=%ux%ux%u shared=%u stream=%p%s", fn->name.c_str(), gx, gy, gz, bx, by,
              bz, shmem, stream, vals.c_str());
  if (bx * by * bz > 1024 || by != 1 || bz != 1 || gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535) return 1;
  if ((int)shmem > fn->maxShared) {
    standin_log("SHARED-TOO-BIG name=%s shared=%u max=%d", fn->name.c_str(), shmem, fn->maxShared);
    return 1;
  }
  if (!emulate(fn, gx, gy, gz, bx, shmem, params)) return 700;
  return 0;
}

extern "C" CUresult cuGetErrorName(CUresult code, const char** s) {
  switch (code) {
    case 0: *s = "CUDA_SUCCESS"; return 0;
    case 1: *s = "CUDA_ERROR_INVALID_VALUE"; return 0;
    case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
    case 3: *s = "CUDA_ERROR_NOT_INITIALIZED"; return 0;
    case 100: *s = "CUDA_ERROR_NO_DEVICE"; return 0;
    case 101: *s = "CUDA_ERROR_INVALID_DEVICE"; return 0;
    case 201: *s = "CUDA_ERROR_INVALID_CONTEXT"; return 0;
    case 218: *s = "CUDA_ERROR_INVALID_PTX"; return 0;
    case 500: *s = "CUDA_ERROR_NOT_FOUND"; return 0;
    case 700: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; return 0;
  }
  *s = 0;
  return 1;
}

extern "C" CUresult cuGetErrorString(CUresult code, const char** s) {
  switch (code) {
    case 2: *s = "out of memory"; return 0;
    case 100: *s = "no CUDA-capable device is detected"; return 0;
    case 700: *s = "an illegal memory access was encountered"; return 0;
  }
  *s = 0;
  return 1;
}
