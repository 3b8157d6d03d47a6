// Stand-in libcublas for the CI tests: the cuBLAS functions the bindings
// use, with the same C signatures. Every call is logged with its arguments;
// the GEMMs are computed on the host (device memory is host memory in the
// stand-in libcuda) with a plain reference loop in double, column-major as
// cuBLAS defines them, for the type combinations cublasGemmEx supports with
// fp32 compute (32F/32F/32F, 16BF/16BF/16BF, 16BF/16BF/32F, 16F/16F/16F,
// 16F/16F/32F); others return CUBLAS_STATUS_NOT_SUPPORTED.
#include <stdint.h>
#include <stdlib.h>

#include "standin.h"

typedef int cublasStatus_t;

STANDIN_CONTROL(cublas)

static float ldv(const void* p, int t, size_t i) {
  if (t == 0) return ((const float*)p)[i];
  if (t == 2) return (float)((const _Float16*)p)[i];
  uint32_t u = (uint32_t)((const uint16_t*)p)[i] << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void stv(void* p, int t, size_t i, float v) {
  if (t == 0) {
    ((float*)p)[i] = v;
  } else if (t == 2) {
    ((_Float16*)p)[i] = (_Float16)v;
  } else {
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      ((uint16_t*)p)[i] = (uint16_t)((u >> 16) | 0x40);
      return;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    ((uint16_t*)p)[i] = (uint16_t)(u >> 16);
  }
}

static int esize(int t) { return t == 0 ? 4 : 2; }

static cublasStatus_t check(int ta, int tb, int m, int n, int k, int at, int lda, int bt, int ldb, int ct, int ldc, int compute) {
  bool types = (at == 0 && bt == 0 && ct == 0) || (at == 14 && bt == 14 && (ct == 14 || ct == 0)) ||
               (at == 2 && bt == 2 && (ct == 2 || ct == 0));
  bool comp = compute == 68 || compute == 69 || compute == 75 || compute == 77;
  if (!types || !comp) return 15;  // CUBLAS_STATUS_NOT_SUPPORTED
  if (m < 0 || n < 0 || k < 0 || (ta != 0 && ta != 1) || (tb != 0 && tb != 1)) return 7;
  if (lda < (ta ? (k > 1 ? k : 1) : (m > 1 ? m : 1))) return 7;  // CUBLAS_STATUS_INVALID_VALUE
  if (ldb < (tb ? (n > 1 ? n : 1) : (k > 1 ? k : 1))) return 7;
  if (ldc < (m > 1 ? m : 1)) return 7;
  return 0;
}

static void gemm(int ta, int tb, int m, int n, int k, float alpha, const void* A, int at, int lda, const void* B, int bt, int ldb,
                 float beta, void* C, int ct, int ldc) {
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < m; i++) {
      double s = 0;
      for (int p = 0; p < k; p++) {
        float a = ta ? ldv(A, at, (size_t)p + (size_t)i * lda) : ldv(A, at, (size_t)i + (size_t)p * lda);
        float b = tb ? ldv(B, bt, (size_t)j + (size_t)p * ldb) : ldv(B, bt, (size_t)p + (size_t)j * ldb);
        s += (double)a * b;
      }
      size_t c = (size_t)i + (size_t)j * ldc;
      double v = alpha * s;
      if (beta != 0) v += (double)beta * ldv(C, ct, c);
      stv(C, ct, c, (float)v);
    }
  }
}

extern "C" {

cublasStatus_t cublasCreate_v2(void** h) {
  FAIL();
  *h = (void*)0xB1A5;
  standin_log("cublasCreate_v2 handle=%p", *h);
  return 0;
}

cublasStatus_t cublasDestroy_v2(void* h) {
  FAIL();
  standin_log("cublasDestroy_v2 handle=%p", h);
  return 0;
}

cublasStatus_t cublasSetStream_v2(void* h, void* s) {
  FAIL();
  standin_log("cublasSetStream_v2 handle=%p stream=%p", h, s);
  return 0;
}

cublasStatus_t cublasSetWorkspace_v2(void* h, void* w, size_t n) {
  FAIL();
  standin_log("cublasSetWorkspace_v2 handle=%p ptr=%p bytes=%zu", h, w, n);
  return 0;
}

cublasStatus_t cublasSetMathMode(void* h, int mode) {
  FAIL();
  standin_log("cublasSetMathMode handle=%p mode=%d", h, mode);
  return 0;
}

cublasStatus_t cublasGetProperty(int type, int* v) {
  FAIL();
  *v = type == 0 ? 12 : type == 1 ? 4 : 5;
  return 0;
}

const char* cublasGetStatusName(cublasStatus_t s) {
  switch (s) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

cublasStatus_t cublasGemmEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at, int lda,
                            const void* B, int bt, int ldb, const void* beta, void* C, int ct, int ldc, int compute, int algo) {
  FAIL();
  float al = *(const float*)alpha, be = *(const float*)beta;
  standin_log("cublasGemmEx handle=%p ta=%d tb=%d m=%d n=%d k=%d alpha=%g A=%p Atype=%d lda=%d B=%p Btype=%d ldb=%d beta=%g "
              "C=%p Ctype=%d ldc=%d compute=%d algo=%d",
              h, ta, tb, m, n, k, al, A, at, lda, B, bt, ldb, be, C, ct, ldc, compute, algo);
  cublasStatus_t st = check(ta, tb, m, n, k, at, lda, bt, ldb, ct, ldc, compute);
  if (st) return st;
  gemm(ta, tb, m, n, k, al, A, at, lda, B, bt, ldb, be, C, ct, ldc);
  return 0;
}

cublasStatus_t cublasGemmStridedBatchedEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at,
                                          int lda, long long sa, const void* B, int bt, int ldb, long long sb, const void* beta,
                                          void* C, int ct, int ldc, long long sc, int batch, int compute, int algo) {
  FAIL();
  float al = *(const float*)alpha, be = *(const float*)beta;
  standin_log("cublasGemmStridedBatchedEx handle=%p ta=%d tb=%d m=%d n=%d k=%d alpha=%g A=%p Atype=%d lda=%d strideA=%lld B=%p "
              "Btype=%d ldb=%d strideB=%lld beta=%g C=%p Ctype=%d ldc=%d strideC=%lld batch=%d compute=%d algo=%d",
              h, ta, tb, m, n, k, al, A, at, lda, sa, B, bt, ldb, sb, be, C, ct, ldc, sc, batch, compute, algo);
  cublasStatus_t st = check(ta, tb, m, n, k, at, lda, bt, ldb, ct, ldc, compute);
  if (st) return st;
  for (int i = 0; i < batch; i++)
    gemm(ta, tb, m, n, k, al, (const char*)A + i * sa * esize(at), at, lda, (const char*)B + i * sb * esize(bt), bt, ldb, be,
         (char*)C + i * sc * esize(ct), ct, ldc);
  return 0;
}

cublasStatus_t cublasGemmBatchedEx(void* h, int ta, int tb, int m, int n, int k, const void* alpha, const void* const* A, int at,
                                   int lda, const void* const* B, int bt, int ldb, const void* beta, void* const* C, int ct, int ldc,
                                   int batch, int compute, int algo) {
  FAIL();
  float al = *(const float*)alpha, be = *(const float*)beta;
  standin_log("cublasGemmBatchedEx handle=%p ta=%d tb=%d m=%d n=%d k=%d alpha=%g A=%p Atype=%d lda=%d B=%p Btype=%d ldb=%d "
              "beta=%g C=%p Ctype=%d ldc=%d batch=%d compute=%d algo=%d",
              h, ta, tb, m, n, k, al, (const void*)A, at, lda, (const void*)B, bt, ldb, be, (void*)C, ct, ldc, batch, compute, algo);
  cublasStatus_t st = check(ta, tb, m, n, k, at, lda, bt, ldb, ct, ldc, compute);
  if (st) return st;
  for (int i = 0; i < batch; i++) {
    standin_log("cublasGemmBatchedEx.item i=%d A=%p B=%p C=%p", i, A[i], B[i], C[i]);
    gemm(ta, tb, m, n, k, al, A[i], at, lda, B[i], bt, ldb, be, C[i], ct, ldc);
  }
  return 0;
}

}  // extern "C"
