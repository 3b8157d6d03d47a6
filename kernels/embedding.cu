// Embedding lookup and its backward.
#include "common.cuh"

// smt_embedding: out[i, :] = table[ids[i], :]. Grid: one block per row
// (grid-stride over rows in y). dts: out, table.
extern "C" __global__ void smt_embedding(void* out, const void* table, const int* ids, int dts, int N, int D) {
  const int od = dtof(dts, 0), td = dtof(dts, 1);
  for (int i = blockIdx.x; i < N; i += gridDim.x) {
    const i64 src = (i64)ids[i] * D, dst = (i64)i * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) st(out, od, dst + d, ld(table, td, src + d));
  }
}

// smt_embedding_bwd: dtable[uniq[u], :] += Σ_{k ∈ [offs[u], offs[u+1])}
// dout[rows[k], :]. The host groups the rows by token id (a counting sort),
// so each table row is written by one block and the sums run in a fixed
// order: the result is deterministic (no atomics). Grid: x over unique ids,
// y over column chunks of blockDim.x. dts: dtable, dout.
extern "C" __global__ void smt_embedding_bwd(void* dtable, const void* dout, const int* uniq, const int* offs, const int* rows,
                                             int dts, int U, int D) {
  const int td = dtof(dts, 0), od = dtof(dts, 1);
  const int d = blockIdx.y * blockDim.x + threadIdx.x;
  for (int u = blockIdx.x; u < U; u += gridDim.x) {
    if (d >= D) continue;
    float s = 0.f;
    for (int k = offs[u]; k < offs[u + 1]; k++) s += ld(dout, od, (i64)rows[k] * D + d);
    const i64 t = (i64)uniq[u] * D + d;
    st(dtable, td, t, ld(dtable, td, t) + s);
  }
}

EMU_REGISTER(smt_embedding)
EMU_REGISTER(smt_embedding_bwd)
