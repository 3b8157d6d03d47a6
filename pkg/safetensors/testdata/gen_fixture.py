#!/usr/bin/python3
"""Generate conversions.bin: float32 -> bfloat16 / float16 bits as PyTorch computes them.

Run from this directory with Debian's PyTorch (python3-torch):

    /usr/bin/python3 gen_fixture.py

The Go tests in ../conversion_test.go compare our conversions with these bits.
The output is deterministic (fixed seed), so re-running it must give the same file.

Layout of conversions.bin (all little-endian):

    magic   8 bytes  b"SMTCONV1"
    torch   16 bytes torch.__version__, NUL-padded
    n       uint32   number of records
    n records of 16 bytes:
        f32      uint32  the input float32 bits
        bf16     uint16  bits of x.to(torch.bfloat16)
        f16      uint16  bits of x.to(torch.float16)
        bf16f32  uint32  bits of x.to(torch.bfloat16).to(torch.float32)
        f16f32   uint32  bits of x.to(torch.float16).to(torch.float32)
    then three sweeps, each:
        kind     uint32  1 = f16->f32 over all 65536 half bit patterns,
                         2 = f32->bf16 over float32 bit patterns 0, step, 2*step, ...,
                         3 = f32->f16 over the same patterns
        step     uint32  stride between input bit patterns (1 for kind 1)
        count    uint32  number of inputs
        sha256   32 bytes over the outputs as little-endian uint32 (kind 1) or
                         uint16 (kinds 2, 3); any NaN output is first replaced by the
                         canonical quiet NaN (f32 0x7fc00000, bf16 0x7fc0, f16 0x7e00),
                         because PyTorch's NaN payloads depend on its code path.
"""
import hashlib
import struct

import numpy as np
import torch

OUT = "conversions.bin"


def f32_bits(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def bits_from_u32(u):
    return np.asarray(u, dtype=np.uint64).astype(np.uint32)


def edge_cases():
    u = []
    f = lambda x: int(np.float32(x).view(np.uint32))
    # zeros, infinities, NaNs with and without payload, signalling NaN
    u += [0x00000000, 0x80000000, 0x7F800000, 0xFF800000]
    u += [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF,
          0x7FA12345, 0x7FC0FFFF, 0x7F80FFFF, 0x7F810000]
    # float32 subnormals, smallest normal, max finite
    u += [0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00400000, 0x00800000,
          0x80800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0x7F7F8001]
    # float16 boundaries: max finite 65504, the tie 65520 that overflows, just below it
    for x in [65504.0, 65505.0, 65519.0, 65520.0, 65536.0, 1e5, 1e30, -65504.0, -65520.0]:
        u.append(f(x))
    u += [0x477FEFFF, 0x477FF000, 0x477FF001, 0xC77FF000]
    # float16 smallest normal 2^-14, subnormal range 2^-24 .. 2^-14, ties below 2^-24
    for e in range(-27, -12):
        for m in [1.0, 1.25, 1.5, 1.75, 1.0 + 2**-10, 1.0 + 2**-11, 1.0 + 3 * 2**-11]:
            u.append(f(m * 2.0**e))
            u.append(f(-m * 2.0**e))
    u += [0x33000000, 0x33000001, 0x32FFFFFF, 0x33800000, 0x33C00000, 0x34200000]
    # ties to even in the normal range: bf16 drops 16 bits, f16 drops 13 bits
    for base in [1.0, 3.0, 1000.0, 0.1, -2.5, 7.0e-3]:
        b = f(base) & 0xFFFF0000
        u += [b | 0x8000, b | 0x8001, b | 0x7FFF, (b + 0x10000) | 0x8000]
        h = f(base) & 0xFFFFE000
        u += [h | 0x1000, h | 0x1001, h | 0x0FFF, (h + 0x2000) | 0x1000]
    # bf16 rounding that carries into the exponent and to infinity
    u += [0x3F7FFFFF, 0x3F7F8000, 0x3F7F7FFF, 0x7F7FFFFF]
    return u


def main():
    rng = np.random.default_rng(20251127)
    values = list(edge_cases())
    # random normal values at the scales found in LLM weights, activations and gradients
    for scale in [1e-8, 1e-6, 1e-4, 1e-2, 0.02, 1.0, 10.0, 1e3, 3e4, 1e5]:
        values += list(f32_bits((rng.standard_normal(300) * scale).astype(np.float32)))
    # random bit patterns over the whole float32 range (a few NaNs included)
    values += list(rng.integers(0, 2**32, size=1000, dtype=np.uint64))
    # random ties: force the discarded bits to exactly one half
    r = rng.integers(0, 2**32, size=400, dtype=np.uint64).astype(np.uint32)
    values += list((r[:200] & np.uint32(0xFFFF0000)) | np.uint32(0x8000))
    values += list((r[200:] & np.uint32(0xFFFFE000)) | np.uint32(0x1000))

    u = bits_from_u32(values)
    x = torch.from_numpy(u.view(np.int32).copy()).view(torch.float32)
    bf = x.to(torch.bfloat16)
    hf = x.to(torch.float16)
    bf_bits = bf.view(torch.int16).numpy().view(np.uint16)
    hf_bits = hf.view(torch.int16).numpy().view(np.uint16)
    bf_back = bf.to(torch.float32).view(torch.int32).numpy().view(np.uint32)
    hf_back = hf.to(torch.float32).view(torch.int32).numpy().view(np.uint32)

    out = bytearray()
    out += b"SMTCONV1"
    out += torch.__version__.encode()[:16].ljust(16, b"\0")
    out += struct.pack("<I", len(u))
    for i in range(len(u)):
        out += struct.pack("<IHHII", int(u[i]), int(bf_bits[i]), int(hf_bits[i]),
                           int(bf_back[i]), int(hf_back[i]))

    # sweep 1: every float16 bit pattern to float32
    h = torch.arange(0, 65536, dtype=torch.int32).to(torch.int16).view(torch.float16)
    f = h.to(torch.float32)
    fb = f.view(torch.int32).numpy().view(np.uint32).copy()
    fb[torch.isnan(f).numpy()] = 0x7FC00000
    out += struct.pack("<III", 1, 1, 65536) + hashlib.sha256(fb.astype("<u4").tobytes()).digest()

    # sweeps 2 and 3: a strided walk over all float32 bit patterns
    step = 997
    inputs = np.arange(0, 2**32, step, dtype=np.uint64).astype(np.uint32)
    xs = torch.from_numpy(inputs.view(np.int32).copy()).view(torch.float32)
    for kind, dt, qnan in [(2, torch.bfloat16, 0x7FC0), (3, torch.float16, 0x7E00)]:
        y = xs.to(dt)
        yb = y.view(torch.int16).numpy().view(np.uint16).copy()
        yb[torch.isnan(y).numpy()] = qnan
        out += struct.pack("<III", kind, step, len(inputs))
        out += hashlib.sha256(yb.astype("<u2").tobytes()).digest()

    with open(OUT, "wb") as fh:
        fh.write(out)
    print(f"wrote {OUT}: {len(u)} records, torch {torch.__version__}")


if __name__ == "__main__":
    main()
