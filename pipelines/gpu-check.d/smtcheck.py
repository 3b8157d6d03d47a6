#!/usr/bin/env python3
"""Helpers of the gpu-check hooks in this directory; standard library only
(Python 3.9+), so they run wherever python3 does, with or without torch.

  smtcheck.py standin-libs ROOT
      the stand-in CUDA library directory that the cudatest package builds
      for the current sources ($XDG_CACHE_HOME/smt-standin/KEY), or nothing
  smtcheck.py gen-diff --expected FILE --text FILE --ids-a A.json --ids-b B.json
      where a greedy text differs from the expected one: first byte, line,
      and the first token where two `evaluate generate --json` outputs
      (A: the device under test, B: the CPU) differ
  smtcheck.py metrics-diff A/metrics.jsonl B/metrics.jsonl
      the per-step training metrics (loss, grad_norm, lr, tokens) and the
      held-out losses of two runs must be equal (a resumed run against an
      uninterrupted one)
  smtcheck.py delta-diff --base MODEL A.safetensors B.safetensors [options]
      compares the updates Δ = trained − initial of two deltas of the same
      blocks (A: the device under test, B: the reference), per tensor
"""

import argparse
import array
import glob
import hashlib
import json
import math
import os
import struct
import subprocess
import sys

# --- safetensors, read with the standard library -----------------------------

_CODES = {"F32": ("f", 4), "I32": ("i", 4), "BF16": ("H", 2), "F16": ("H", 2), "I64": ("q", 8)}


class SafeTensors:
    """A safetensors file: header, metadata and tensors as array.array."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.raw = f.read()
        (n,) = struct.unpack("<Q", self.raw[:8])
        header = json.loads(self.raw[8 : 8 + n].decode("utf-8"))
        self.meta = header.pop("__metadata__", {}) or {}
        self.header = header
        self.base = 8 + n

    def names(self):
        return list(self.header)

    def shape(self, name):
        return self.header[name]["shape"]

    def dtype(self, name):
        return self.header[name]["dtype"]

    def get(self, name):
        """The tensor as a flat array: F32 and I32 as stored, BF16 and F16
        converted to float32 values."""
        info = self.header[name]
        dt = info["dtype"]
        if dt not in _CODES:
            raise ValueError("%s: %s: dtype %s not supported" % (self.path, name, dt))
        code, size = _CODES[dt]
        a, b = info["data_offsets"]
        out = array.array(code)
        out.frombytes(self.raw[self.base + a : self.base + b])
        if sys.byteorder != "little":
            out.byteswap()
        if dt == "BF16":
            u = array.array("I", (x << 16 for x in out))
            out = array.array("f")
            out.frombytes(u.tobytes())
        elif dt == "F16":
            out = array.array("f", (struct.unpack("<e", struct.pack("<H", x))[0] for x in out))
        return out


def model_tensors(model_dir):
    """name → SafeTensors holding it, for a model directory (one file or
    shards listed in model.safetensors.index.json)."""
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    files = {}
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        for name, fn in wm.items():
            if fn not in files:
                files[fn] = SafeTensors(os.path.join(model_dir, fn))
        return {name: files[fn] for name, fn in wm.items()}
    st = SafeTensors(os.path.join(model_dir, "model.safetensors"))
    return {name: st for name in st.names()}


def bf16_round(vals):
    """float32 values rounded to bfloat16 (nearest even), as float32."""
    u = array.array("I")
    u.frombytes(array.array("f", vals).tobytes())
    r = array.array("I", (((x + 0x7FFF + ((x >> 16) & 1)) >> 16) << 16 & 0xFFFFFFFF for x in u))
    out = array.array("f")
    out.frombytes(r.tobytes())
    return out


def gather_blocks(w, cols, S, index):
    """The S×S blocks at index ((row, col) pairs in block units) of the
    row-major matrix w with `cols` columns, in the delta's order."""
    out = array.array("f")
    for r, c in index:
        for i in range(S):
            start = (r * S + i) * cols + c * S
            out.extend(w[start : start + S])
    return out


def delta_blocks(st):
    """NAME → (blocks array, [(row, col)...], S) of a delta file."""
    S = int(st.meta.get("smt.block_size", "0"))
    out = {}
    for name in st.names():
        if not name.endswith("::blocks"):
            continue
        base = name[: -len("::blocks")]
        k, s1, s2 = st.shape(name)
        if S == 0:
            S = s1
        if (s1, s2) != (S, S):
            raise ValueError("%s: %s has shape %s, block size %d" % (st.path, name, st.shape(name), S))
        idx = st.get(base + "::index")
        pairs = [(idx[2 * i], idx[2 * i + 1]) for i in range(k)]
        out[base] = (st.get(name), pairs, S)
    return out


# --- delta-diff ----------------------------------------------------------------


def _diff_tensor(va, vb, ua, ub):
    """Sums for one tensor: A's and B's values and initial values."""
    d2 = b2 = ab = a2 = 0.0
    mx_d = mx_b = 0.0
    same = moved = 0
    for x, y, ia, ib in zip(va, vb, ua, ub):
        dxa = x - ia
        dxb = y - ib
        e = dxa - dxb
        d2 += e * e
        b2 += dxb * dxb
        a2 += dxa * dxa
        ab += dxa * dxb
        if abs(e) > mx_d:
            mx_d = abs(e)
        if abs(dxb) > mx_b:
            mx_b = abs(dxb)
        if dxb != 0:
            moved += 1
            if dxa != 0 and (dxa > 0) == (dxb > 0):
                same += 1
    return {"n": len(vb), "d2": d2, "b2": b2, "a2": a2, "ab": ab, "mx_d": mx_d, "mx_b": mx_b,
            "same": same, "moved": moved}


def _ratio(x, y):
    if y > 0:
        return x / y
    return 0.0 if x == 0 else math.inf


def cmd_delta_diff(args):
    a, b = SafeTensors(args.a), SafeTensors(args.b)
    da, db = delta_blocks(a), delta_blocks(b)
    if list(da) != list(db):
        print("--- FAIL: the deltas train different tensors: %s vs %s" % (list(da), list(db)))
        return 1
    tensors = model_tensors(args.base)
    lr = None
    try:
        lr = json.loads(b.meta.get("smt.train", "{}"))["Opt"]["LR"]
    except (KeyError, ValueError, TypeError):
        pass
    # The initial values of every trained block: as stored, and rounded to
    # bf16 (a backend with bf16 weights starts its float32 master copies
    # from the rounded weights).
    init = {}
    for name in da:
        va, ia, S = da[name]
        vb, ib, Sb = db[name]
        if ia != ib or S != Sb:
            print("--- FAIL: %s: the deltas hold different blocks" % name)
            return 1
        st = tensors[name]
        w0 = gather_blocks(st.get(name), st.shape(name)[1], S, ia)
        init[name] = {"f32": w0, "bf16": bf16_round(w0)}
    modes_a = ["f32", "bf16"] if args.a_init == "auto" else [args.a_init]
    modes_b = ["f32", "bf16"] if args.b_init == "auto" else [args.b_init]
    best = None
    for ma in modes_a:
        for mb in modes_b:
            res = [(name, _diff_tensor(da[name][0], db[name][0], init[name][ma], init[name][mb])) for name in da]
            tot = _ratio(sum(r["d2"] for _, r in res), sum(r["b2"] for _, r in res))
            if len(modes_a) * len(modes_b) > 1:
                print("initial values A %s, B %s: rel %.3e" % (ma, mb, math.sqrt(tot)))
            if best is None or tot < best[0]:
                best = (tot, ma, mb, res)
    _, ma, mb, res = best
    print("A = %s (initial values: the base %s)" % (args.a, "rounded to bf16" if ma == "bf16" else "as stored"))
    print("B = %s (initial values: the base %s)" % (args.b, "rounded to bf16" if mb == "bf16" else "as stored"))
    print("Δ = trained − initial; rel = ‖ΔA − ΔB‖₂ / ‖ΔB‖₂; max = max|ΔA − ΔB| / max|ΔB|;")
    print("dir = share of the values B moves that A moves the same way; rms = ‖ΔB‖rms / lr")
    print("%-40s %6s %10s %10s %9s %9s %10s" % ("tensor", "values", "rel", "max", "dir", "cos", "rms"))
    tot = {"d2": 0.0, "b2": 0.0, "same": 0, "moved": 0}
    worst_rel, worst_name, worst_max = 0.0, "", 0.0
    for name, r in res:
        rel = math.sqrt(_ratio(r["d2"], r["b2"]))
        mrel = _ratio(r["mx_d"], r["mx_b"])
        cos = r["ab"] / math.sqrt(r["a2"] * r["b2"]) if r["a2"] > 0 and r["b2"] > 0 else float("nan")
        rms = math.sqrt(r["b2"] / r["n"]) / lr if lr else float("nan")
        print("%-40s %6d %10.3e %10.3e %8.4f%% %9.6f %10.4g" % (name, r["n"], rel, mrel, 100.0 * r["same"] / max(r["moved"], 1), cos, rms))
        for k in tot:
            tot[k] += r[k]
        if rel >= worst_rel:
            worst_rel, worst_name = rel, name
        worst_max = max(worst_max, mrel)
    total = math.sqrt(_ratio(tot["d2"], tot["b2"]))
    share = tot["same"] / max(tot["moved"], 1)
    print("all: rel %.3e, worst tensor rel %.3e (%s), worst max %.3e, same direction %.4f%% of %d moved values"
          % (total, worst_rel, worst_name, worst_max, 100 * share, tot["moved"]))
    if tot["moved"] == 0:
        print("--- FAIL: the reference delta B moved no value")
        return 1
    bad = []
    if args.bound is not None and worst_rel > args.bound:
        bad.append("worst tensor rel %.3g > %.3g" % (worst_rel, args.bound))
    if args.total_bound is not None and total > args.total_bound:
        bad.append("rel %.3g > %.3g" % (total, args.total_bound))
    if args.dir_bound is not None and share < args.dir_bound:
        bad.append("same direction %.2f%% < %.4g%%" % (100 * share, 100 * args.dir_bound))
    label = (args.label + ": ") if args.label else ""
    if bad:
        print("--- FAIL: %s%s" % (label, "; ".join(bad)))
        return 1
    parts = []
    if args.total_bound is not None or args.bound is not None:
        parts.append("rel %.2g (≤ %s), worst tensor %.2g (≤ %s)" % (total, args.total_bound, worst_rel, args.bound))
    if args.dir_bound is not None:
        parts.append("same direction %.2f%% (≥ %g%%)" % (100 * share, 100 * args.dir_bound))
    if not parts:
        parts.append("rel %.2g, worst tensor %.2g, same direction %.2f%%" % (total, worst_rel, 100 * share))
    print("result: %s%s" % (label, ", ".join(parts)))
    return 0


# --- gen-diff ------------------------------------------------------------------


def cmd_gen_diff(args):
    """Prints "summary: byte B (line L), token T/N (A x, CPU y)" first,
    then the details."""
    with open(args.expected, "rb") as f:
        want = f.read()
    with open(args.text, "rb") as f:
        got = f.read()
    if got == want:
        print("summary: identical, %d bytes" % len(want))
        return 0
    n = min(len(got), len(want))
    i = next((k for k in range(n) if got[k] != want[k]), n)
    line = want[:i].count(b"\n") + 1
    summary = "byte %d (line %d)" % (i + 1, line)
    details = ["first differing byte %d (1-based; line %d): expected %r, got %r (lengths %d, %d)"
               % (i + 1, line, want[i : i + 24], got[i : i + 24], len(want), len(got))]
    if args.ids_a and args.ids_b:
        with open(args.ids_a) as f:
            ia = json.load(f)["ids"]
        with open(args.ids_b) as f:
            ib = json.load(f)["ids"]
        m = min(len(ia), len(ib))
        t = next((k for k in range(m) if ia[k] != ib[k]), m)
        if t == m and len(ia) == len(ib):
            details.append("tokens: the same %d ids in both --json runs" % m)
        else:
            x = ia[t] if t < len(ia) else "end"
            y = ib[t] if t < len(ib) else "end"
            summary += ", token %d/%d (%s %s, CPU %s)" % (t + 1, len(ib), args.name_a, x, y)
            details.append("first differing token: new token %d of %d (1-based): %s %s, CPU float32 %s; the first %d agree"
                           % (t + 1, len(ib), args.name_a, x, y, t))
    print("summary: " + summary)
    print("\n".join(details))
    return 1


# --- metrics-diff --------------------------------------------------------------

_METRIC_KEYS = ("loss", "grad_norm", "lr", "tokens", "targets", "eval_loss", "eval_tokens")


def _metrics(path):
    """(kind, step) → record, the last record of each kind for each step
    (a resumed run may repeat the steps after its checkpoint)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            kind = "eval" if "eval_loss" in r else "train"
            out[(kind, r.get("step"))] = r
    return out


def cmd_metrics_diff(args):
    a, b = _metrics(args.a), _metrics(args.b)
    diffs = []
    for key in sorted(a, key=lambda k: (k[1], k[0])):
        if key not in b:
            diffs.append("%s step %s: missing in B" % key)
            continue
        for k in _METRIC_KEYS:
            va, vb = a[key].get(k), b[key].get(k)
            if va != vb and not (isinstance(va, float) and isinstance(vb, float) and math.isnan(va) and math.isnan(vb)):
                diffs.append("%s step %s: %s %r vs %r" % (key[0], key[1], k, va, vb))
    for key in b:
        if key not in a:
            diffs.append("%s step %s: missing in A" % key)
    steps = sorted({k[1] for k in a if k[0] == "train"})
    evals = sorted({k[1] for k in a if k[0] == "eval"})
    if diffs:
        print("metrics: %d differences between %s and %s; first: %s" % (len(diffs), args.a, args.b, "; ".join(diffs[:3])))
        return 1
    print("metrics: identical for train steps %s–%s (loss, grad_norm, lr, tokens) and held-out losses at steps %s"
          % (steps[0] if steps else "-", steps[-1] if steps else "-", ", ".join(str(e) for e in evals)))
    return 0


# --- standin-libs ----------------------------------------------------------------


def cmd_standin_libs(args):
    """Mirrors pkg/cuda/cudatest.build's cache key: sha256 over `g++
    --version` and the sorted stand-in and kernel sources."""
    root = args.root
    files = {}
    pats = ["pkg/cuda/cudatest/standin/*.h", "pkg/cuda/cudatest/standin/*.cc",
            "kernels/*.cu", "kernels/*.cuh", "kernels/Makefile", "kernels/sources.sha256"]
    for p in pats:
        for fn in glob.glob(os.path.join(root, p)):
            with open(fn, "rb") as f:
                files[os.path.basename(fn)] = f.read()
    try:
        ver = subprocess.run(["g++", "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    except OSError:
        return 1
    h = hashlib.sha256()
    h.update(ver)
    for n in sorted(files):
        h.update(("%s %d\n" % (n, len(files[n]))).encode())
        h.update(files[n])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = os.path.join(cache, "smt-standin", h.hexdigest()[:16])
    if os.path.exists(os.path.join(d, "libnccl.so.2")) and os.path.exists(os.path.join(d, "libcuda.so.1")):
        print(d)
        return 0
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("standin-libs")
    s.add_argument("root")
    s = sub.add_parser("gen-diff")
    s.add_argument("--expected", required=True)
    s.add_argument("--text", required=True)
    s.add_argument("--ids-a")
    s.add_argument("--ids-b")
    s.add_argument("--name-a", default="cuda")
    s = sub.add_parser("metrics-diff")
    s.add_argument("a")
    s.add_argument("b")
    s = sub.add_parser("delta-diff")
    s.add_argument("--base", required=True, help="the base model directory train ran on")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--a-init", choices=["f32", "bf16", "auto"], default="f32",
                   help="A's initial block values: the base as stored (f32), rounded to bf16 (the CUDA "
                        "backend's bf16 weights), or auto: whichever gives the smaller difference")
    s.add_argument("--b-init", choices=["f32", "bf16", "auto"], default="f32")
    s.add_argument("--bound", type=float, help="fail when a tensor's rel exceeds this")
    s.add_argument("--total-bound", type=float, help="fail when the rel over all tensors exceeds this")
    s.add_argument("--label", default="", help="prefix of the result line")
    s.add_argument("--dir-bound", type=float, help="fail when fewer of the moved values than this share move the same way")
    args = p.parse_args()
    if args.cmd == "standin-libs":
        return cmd_standin_libs(args)
    if args.cmd == "gen-diff":
        return cmd_gen_diff(args)
    if args.cmd == "metrics-diff":
        return cmd_metrics_diff(args)
    if args.cmd == "delta-diff":
        return cmd_delta_diff(args)
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
