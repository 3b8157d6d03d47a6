#!/usr/bin/python3
"""PyTorch peer of bench/train: the same LLaMA training step on the CPU.

Prints one JSON object: {"torch": version, "threads": n, "results": [{"mode",
"ms", "tokens_per_s"}, ...]}. Modes:
  full  forward, backward of every parameter, AdamW update of every parameter;
  smt   forward, backward with weight gradients only for the selected blocks of
        q/k/v (a custom autograd function in the style of the SMT reference:
        dense forward, full input gradient, per-block weight gradients from the
        saved input column slices), AdamW over the blocks only.

Run it the way bench/train does: OPENBLAS_CORETYPE unset, OMP_WAIT_POLICY=PASSIVE,
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=34359738368
(PyTorch's best settings on these machines; see DESIGN.md §5).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


class SparseLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, blocks, rows, cols, S):
        # weight [out, in] frozen with the trained blocks written in; blocks [k, S, S].
        w = weight.clone()
        for i in range(len(rows)):
            w[rows[i] * S:(rows[i] + 1) * S, cols[i] * S:(cols[i] + 1) * S] = blocks[i]
        ucols = sorted(set(cols))
        xs = x.reshape(-1, x.shape[-1])
        saved = {c: xs[:, c * S:(c + 1) * S].clone() for c in ucols}
        ctx.save_for_backward(w)
        ctx.saved, ctx.rows, ctx.cols, ctx.S = saved, rows, cols, S
        return x @ w.t()

    @staticmethod
    def backward(ctx, dy):
        (w,) = ctx.saved_tensors
        S = ctx.S
        dys = dy.reshape(-1, dy.shape[-1])
        dx = dy @ w
        db = torch.stack([dys[:, r * S:(r + 1) * S].t() @ ctx.saved[c] for r, c in zip(ctx.rows, ctx.cols)])
        return dx, None, db, None, None, None


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin


class Model(torch.nn.Module):
    def __init__(self, a, gen):
        super().__init__()
        D, F_, V, L = a.dim, a.hidden, a.vocab, a.layers
        hd = D // a.heads
        kvd = a.kv * hd
        p = lambda *s: torch.nn.Parameter(torch.randn(*s, generator=gen) * 0.02)
        self.emb = p(V, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.n1, m.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
            m.q, m.k, m.v, m.o = p(D, D), p(kvd, D), p(kvd, D), p(D, D)
            m.g, m.u, m.d = p(F_, D), p(F_, D), p(D, F_)
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.a = a
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(a.seq).float(), inv)
        e = torch.cat((f, f), -1)
        self.cos, self.sin = e.cos(), e.sin()
        self.blocks = None

    def lin(self, x, w, name):
        if self.blocks is not None and name in self.blocks:
            b, rows, cols = self.blocks[name]
            return SparseLinearFn.apply(x, w, b, rows, cols, self.a.block)
        return x @ w.t()

    def forward(self, ids, targets):
        a = self.a
        B, T = ids.shape
        H, KV = a.heads, a.kv
        hd = a.dim // H
        x = self.emb[ids]
        for i, m in enumerate(self.layers):
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * m.n1
            q = self.lin(h, m.q, f"{i}.q").view(B, T, H, hd).transpose(1, 2)
            k = self.lin(h, m.k, f"{i}.k").view(B, T, KV, hd).transpose(1, 2)
            v = self.lin(h, m.v, f"{i}.v").view(B, T, KV, hd).transpose(1, 2)
            q, k = rope(q, self.cos, self.sin), rope(k, self.cos, self.sin)
            if KV != H:
                k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") else \
                torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd) + torch.full((T, T), float("-inf")).triu(1), -1) @ v
            x = x + att.transpose(1, 2).reshape(B, T, -1) @ m.o.t()
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * m.n2
            x = x + (F.silu(h @ m.g.t()) * (h @ m.u.t())) @ m.d.t()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.norm
        logits = x @ self.emb.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def bench(a, mode):
    gen = torch.Generator().manual_seed(1)
    model = Model(a, gen)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=gen)
    tg = torch.randint(0, a.vocab, (a.batch, a.seq), generator=gen)
    if mode == "smt":
        for p in model.parameters():
            p.requires_grad_(False)
        S = a.block
        per = max(1, a.nblocks // (3 * a.layers))
        model.blocks, params = {}, []
        for i, m in enumerate(model.layers):
            for nm, w in (("q", m.q), ("k", m.k), ("v", m.v)):
                R, C = w.shape[0] // S, w.shape[1] // S
                sel = torch.randperm(R * C, generator=gen)[:per].tolist()
                rows, cols = [s // C for s in sel], [s % C for s in sel]
                b = torch.nn.Parameter(torch.stack([w[r * S:(r + 1) * S, c * S:(c + 1) * S].clone() for r, c in zip(rows, cols)]))
                model.blocks[f"{i}.{nm}"] = (b, rows, cols)
                params.append(b)
    else:
        params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)
    times = []
    for s in range(a.warm + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = model(ids, tg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if s >= a.warm:
            times.append(time.perf_counter() - t0)
    times.sort()
    ms = 1000 * times[len(times) // 2]
    return {"mode": mode, "ms": ms, "tokens_per_s": a.batch * a.seq / (ms / 1000), "trained": sum(p.numel() for p in params)}


def main():
    ap = argparse.ArgumentParser()
    for k, v in dict(dim=288, layers=6, heads=6, kv=6, hidden=768, vocab=32000, batch=8, seq=256, steps=5, warm=1,
                     threads=2, block=32, nblocks=126).items():
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--modes", default="full,smt")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    res = [bench(a, m) for m in a.modes.split(",")]
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": res}))


if __name__ == "__main__":
    main()
