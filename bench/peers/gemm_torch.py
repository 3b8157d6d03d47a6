#!/usr/bin/python3
"""GEMM throughput of PyTorch on the CPU, the peer column of bench/gemm.

Run it with PyTorch's best settings (bench/gemm does this): OPENBLAS_CORETYPE
unset so OpenBLAS picks its AVX-512 kernels, OMP_WAIT_POLICY=PASSIVE so idle
OpenMP threads do not spin on the other core. Usage:

    gemm_torch.py THREADS REPS SHAPE...

where each SHAPE is M,K,N,TA,TB (TA/TB are 0 or 1: the stored operand is
transposed, as in cblas). Prints one JSON object per shape:
{"shape": "M,K,N,TA,TB", "gflops": best GFLOP/s over REPS calls}.
"""
import json
import sys
import time

import torch


def bench(m, k, n, ta, tb, reps):
    torch.manual_seed(0)
    # Stored operands, as the Go benchmark lays them out.
    a = torch.rand(k, m) if ta else torch.rand(m, k)
    b = torch.rand(n, k) if tb else torch.rand(k, n)
    opa = a.t() if ta else a
    opb = b.t() if tb else b
    c = torch.empty(m, n)
    torch.matmul(opa, opb, out=c)  # warm up, fault C in
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.matmul(opa, opb, out=c)
        best = min(best, time.perf_counter() - t)
    return 2.0 * m * n * k / best / 1e9


def main():
    threads, reps = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    for spec in sys.argv[3:]:
        m, k, n, ta, tb = (int(x) for x in spec.split(","))
        g = bench(m, k, n, bool(ta), bool(tb), reps)
        print(json.dumps({"shape": spec, "gflops": g, "threads": threads, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
