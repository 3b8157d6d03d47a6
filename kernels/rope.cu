// Rotary position embedding, the Hugging Face way (rotate halves).
#include "common.cuh"

// smt_rope rotates x [N, nh, HD] in place: for j < HD/2 the pair (x_j,
// x_{j+HD/2}) of row i turns by angle pos[i]·θ_j, read as cos and sin
// tables [maxPos, HD/2]; inverse ≠ 0 turns by the negative angle.
// dts: x, cos, sin.
extern "C" __global__ void smt_rope(void* x, const int* pos, const void* cosT, const void* sinT, int dts, int N, int nh, int HD,
                                    int inverse) {
  const int xd = dtof(dts, 0), cd = dtof(dts, 1), sd = dtof(dts, 2);
  const int half = HD / 2;
  const i64 total = (i64)N * nh * half;
  GRID_STRIDE(t, total) {
    const int j = (int)(t % half);
    const i64 rest = t / half;
    const int h = (int)(rest % nh);
    const i64 i = rest / nh;
    const i64 p = (i64)pos[i] * half + j;
    const float c = ld(cosT, cd, p);
    float s = ld(sinT, sd, p);
    if (inverse) s = -s;
    const i64 base = (i * nh + h) * HD;
    const float a = ld(x, xd, base + j), b = ld(x, xd, base + j + half);
    st(x, xd, base + j, a * c - b * s);
    st(x, xd, base + j + half, b * c + a * s);
  }
}

EMU_REGISTER(smt_rope)
