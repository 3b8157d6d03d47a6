#!/usr/bin/python3
"""Shared pieces of the GPU peers of bench/gpu (lora_peft.py, full_ft_torch.py).

- the shapes issue 8 names (same presets as bench/gpu/shape.go);
- the FLOP rule of bench/gpu/flops.go (step_flops), so MFU is counted the same
  way for every implementation; `common_gpu.py flops --mode smt|full|lora ...`
  prints it as JSON (bench/gpu's tests compare it with the Go count);
- the datasheet bf16 peak table (bench/gpu/peak.go holds the same);
- timing (median of warm steps, the device synchronised around each), memory
  (torch.cuda.max_memory_allocated, cudaMemGetInfo through torch), the measured
  rate of one large bf16 matrix product, and the result object every peer
  prints as one JSON line (field names as bench/gpu's -json);
- model construction: transformers' LlamaForCausalLM from a LlamaConfig, random
  weights, bf16, built directly on the device (no download); and a plain PyTorch
  LLaMA of the same structure (module names as Hugging Face's) for when
  transformers is not installed (CPU smoke tests here).

Nothing here downloads anything.
"""
import argparse
import json
import math
import os
import sys
import time

SHAPES = {
    "llama2-7b": dict(dim=4096, layers=32, heads=32, kv_heads=32, ffn=11008, vocab=32000, batch=16, seq=512),
    "tinyllama-1.1b": dict(dim=2048, layers=22, heads=32, kv_heads=4, ffn=5632, vocab=32000, batch=16, seq=512),
    "tiny": dict(dim=64, layers=2, heads=4, kv_heads=2, ffn=160, vocab=96, batch=2, seq=16),
}

# Dense bf16 tensor-core peak (fp32 accumulation, no sparsity), TFLOP/s, by a
# lower-case fragment of the device name; first match wins (bench/gpu/peak.go).
PEAK_TABLE = [
    ("h100 pcie", 756.0), ("h100 nvl", 835.0), ("h200 nvl", 835.0), ("gh200", 989.4), ("h200", 989.4),
    ("h100", 989.4), ("h800", 989.4), ("b200", 2250.0), ("a100", 312.0), ("a800", 312.0), ("l40s", 362.0),
    ("l40", 181.0), ("l4", 121.0),
]

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "up_proj", "down_proj"]


def log(msg):
    print("peer: " + msg, file=sys.stderr, flush=True)


def emit(obj):
    """Prints the result: one JSON object on one line of stdout."""
    print(json.dumps(obj), flush=True)


def datasheet_peak(name):
    d = (name or "").lower()
    for frag, tf in PEAK_TABLE:
        if frag in d:
            return tf
    return 0.0


# --- the FLOP rule (bench/gpu/flops.go states it in full) ----------------------

def linear_shapes(s):
    D, F, hd = s["dim"], s["ffn"], s["dim"] // s["heads"]
    QD, KD = D, s["kv_heads"] * hd
    return {"q": (QD, D), "k": (KD, D), "v": (KD, D), "o": (D, QD), "gate": (F, D), "up": (F, D), "down": (D, F)}


def matmul_params(s):
    """N of the rule: every multiplied matrix (the seven per-layer weights, lm_head)."""
    layer = sum(o * i for o, i in linear_shapes(s).values())
    return s["layers"] * layer + s["vocab"] * s["dim"]


def step_flops(s, mode, blocks=0, block_size=0, lowest=-1, rank=0, targets=()):
    """FLOPs of one training step: forward 2N per token; causal attention
    2·B·d·T·(T+1) per layer forward and twice that backward; input gradients
    2 per weight per token down to the lowest trained layer (its q/k/v input
    gradient skipped unless the embedding trains); weight gradients: SMT
    2·S²·tokens per block, full 2N per token, LoRA adapters 6·r·(in+out) per
    token per adapted matrix (forward and backward)."""
    N = float(s["batch"] * s["seq"])
    D, F = float(s["dim"]), float(s["ffn"])
    QD, KD = D, float(s["kv_heads"] * (s["dim"] // s["heads"]))
    T = float(s["seq"])
    f = dict(forward=2 * N * matmul_params(s), attn_forward=0.0, input_grad=0.0, attn_backward=0.0,
             weight_grad=0.0, adapter=0.0)
    attn_layer = 2 * float(s["batch"]) * QD * T * (T + 1)
    f["attn_forward"] = s["layers"] * attn_layer
    if mode == "full":
        lowest = -1
    elif mode == "lora":
        lowest = 0
    f["input_grad"] = 2 * N * float(s["vocab"]) * D
    for l in range(s["layers"] - 1, max(lowest, 0) - 1, -1):
        f["attn_backward"] += 2 * attn_layer
        f["input_grad"] += 2 * N * (3 * D * F + QD * D)
        if l != lowest:
            f["input_grad"] += 2 * N * D * (QD + 2 * KD)
    if mode == "smt":
        f["weight_grad"] = 2 * N * float(block_size) ** 2 * blocks
    elif mode == "full":
        f["weight_grad"] = 2 * N * matmul_params(s)
    elif mode == "lora":
        sh = linear_shapes(s)
        for t in targets:
            t = t.replace("_proj", "")
            if t in sh:
                o, i = sh[t]
                f["adapter"] += 6 * N * rank * float(o + i) * s["layers"]
    f["total"] = f["forward"] + f["attn_forward"] + f["input_grad"] + f["attn_backward"] + f["weight_grad"] + f["adapter"]
    return f


# --- arguments, shapes, results -------------------------------------------------

def add_common_args(ap, default_shape):
    ap.add_argument("--shape", default=default_shape, choices=sorted(SHAPES), help="shape preset")
    for k in ("dim", "layers", "heads", "kv", "ffn", "vocab", "batch", "seq"):
        ap.add_argument("--" + k, type=int, default=0, help=k + " (0: the preset's)")
    ap.add_argument("--tiny", action="store_true", help="the tiny shape (CPU smoke test)")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"], help="weights and activations")
    ap.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (cuBLAS heuristics, allocator warm-up)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peak-tflops", type=float, default=0.0,
                    help="peak bf16 TFLOP/s for MFU (0: datasheet value for the device name)")
    ap.add_argument("--measure-matmul", action="store_true",
                    help="also time one bf16 8192³ matrix product (matmul_tflops)")
    ap.add_argument("--model", default="auto", choices=["auto", "hf", "plain"],
                    help="hf: transformers' LlamaForCausalLM; plain: this file's PyTorch LLaMA; auto: hf when installed")


def shape_from_args(a):
    name = "tiny" if a.tiny else a.shape
    s = dict(SHAPES[name])
    changed = False
    for k, key in (("dim", "dim"), ("layers", "layers"), ("heads", "heads"), ("kv", "kv_heads"), ("ffn", "ffn"),
                   ("vocab", "vocab"), ("batch", "batch"), ("seq", "seq")):
        v = getattr(a, k)
        if v and v != s[key]:
            s[key] = v
            changed = True
    s["name"] = name + ("*" if changed else "")
    return s


def result(impl, mode, s):
    return dict(impl=impl, mode=mode, shape=s, tokens=s["batch"] * s["seq"], versions=versions())


def versions():
    v = {}
    for mod in ("torch", "transformers", "peft"):
        m = sys.modules.get(mod)
        if m is not None:
            v[mod] = getattr(m, "__version__", "?")
    return v


def import_torch(impl, mode, s):
    """Imports torch, or prints a 'skipped' result and returns None."""
    try:
        import torch  # noqa: F401
        return torch
    except ImportError:
        r = result(impl, mode, s)
        r["skipped"] = "torch not installed"
        emit(r)
        return None


def is_oom(e):
    return "out of memory" in str(e).lower() or type(e).__name__ == "OutOfMemoryError"


def median(xs):
    ys = sorted(xs)
    return ys[len(ys) // 2] if ys else 0.0


class Meter:
    """Times steps and samples memory on one device."""

    def __init__(self, torch, device):
        self.torch, self.device = torch, torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.device_used = 0
        self.device_total = 0

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize(self.device)

    def reset_peak(self):
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
            self.torch.cuda.reset_peak_memory_stats(self.device)

    def sample(self):
        if self.cuda:
            free, total = self.torch.cuda.mem_get_info(self.device)
            self.device_used = max(self.device_used, total - free)
            self.device_total = total

    def run(self, step, warmup, steps):
        """Runs warmup + steps calls of step(); returns (times in ms of the
        timed ones, losses of all)."""
        times, losses = [], []
        for i in range(warmup + steps):
            self.sync()
            t0 = time.perf_counter()
            loss = step()
            self.sync()
            dt = (time.perf_counter() - t0) * 1000
            losses.append(float(loss))
            self.sample()
            if i >= warmup:
                times.append(dt)
        return times, losses

    def device_name(self):
        if self.cuda:
            return self.torch.cuda.get_device_name(self.device)
        return "cpu"

    def memory(self):
        if not self.cuda:
            return dict(peak_mem_bytes=0)
        t = self.torch.cuda
        return dict(peak_mem_bytes=t.max_memory_allocated(self.device), reserved_bytes=t.max_memory_reserved(self.device),
                    device_used_bytes=self.device_used, device_total_bytes=self.device_total)


def finish(r, s, meter, times, losses, flops, peak_tflops):
    """Fills the timing, MFU and memory fields of result r."""
    r["steps_ms"] = times
    r["step_ms"] = median(times)
    r["losses"] = losses
    r["flops"] = flops
    r["device"] = meter.device_name()
    peak = peak_tflops or datasheet_peak(r["device"])
    r["peak_tflops"] = peak
    if r["step_ms"] > 0:
        r["tokens_per_s"] = r["tokens"] / (r["step_ms"] / 1000)
        r["tflops"] = flops["total"] / (r["step_ms"] / 1000) / 1e12
        r["mfu"] = r["tflops"] / peak if peak else 0.0
    r.update(meter.memory())
    if any(not math.isfinite(x) for x in losses):
        r["error"] = "loss is not finite: %s" % losses
    return r


def measure_matmul(torch, device, n=8192, reps=10):
    """TFLOP/s of an n³ bf16 matrix product (random data, median of reps
    after 3 warm-ups, timed with CUDA events)."""
    if torch.device(device).type != "cuda":
        return 0.0
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16, generator=g)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16, generator=g)
    for _ in range(3):
        a @ b
    ts = []
    for _ in range(reps):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        a @ b
        e1.record()
        e1.synchronize()
        ts.append(e0.elapsed_time(e1) / 1000)
    del a, b
    torch.cuda.empty_cache()
    return 2.0 * n ** 3 / median(ts) / 1e12


def random_ids(torch, s, device, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, s["vocab"], (s["batch"], s["seq"]), generator=g)
    return ids.to(device)


# --- models ----------------------------------------------------------------------

def want_hf(choice):
    """Whether to build transformers' model: (True, None), or (False, why)."""
    if choice == "plain":
        return False, "plain PyTorch LLaMA (--model plain)"
    try:
        import transformers  # noqa: F401
        return True, None
    except ImportError:
        if choice == "hf":
            raise
        return False, "transformers not installed: plain PyTorch LLaMA"


def build_model(torch, s, device, dtype, use_hf, seed):
    """A randomly initialised LLaMA of shape s with weights of dtype, built on
    the device (no float32 copy on the host, nothing downloaded), in training
    mode. Hugging Face's LlamaForCausalLM when use_hf, else plain_llama's."""
    torch.manual_seed(seed)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    dev = torch.device(device)
    try:
        if use_hf:
            from transformers import LlamaConfig, LlamaForCausalLM
            kw = dict(hidden_size=s["dim"], intermediate_size=s["ffn"], num_hidden_layers=s["layers"],
                      num_attention_heads=s["heads"], num_key_value_heads=s["kv_heads"], vocab_size=s["vocab"],
                      max_position_embeddings=max(s["seq"], 4096), rms_norm_eps=1e-5, tie_word_embeddings=False,
                      use_cache=False, attention_dropout=0.0)
            try:
                cfg = LlamaConfig(attn_implementation="sdpa", **kw)
            except (TypeError, ValueError):
                cfg = LlamaConfig(**kw)
            if hasattr(dev, "__enter__"):
                with dev:
                    model = LlamaForCausalLM(cfg)
            else:
                model = LlamaForCausalLM(cfg)
        else:
            if hasattr(dev, "__enter__"):
                with dev:
                    model = plain_llama(torch, s)
            else:
                model = plain_llama(torch, s)
    finally:
        torch.set_default_dtype(prev)
    model = model.to(device=dev, dtype=dtype)
    if use_hf:
        # The same values whatever transformers' own initialisation does (some
        # versions leave weights to a later step): matrices normal(0, 0.02),
        # norm weights one. On the device this takes well under a second.
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() >= 2:
                    p.normal_(0.0, 0.02)
                else:
                    p.fill_(1.0)
    model.train()
    return model


def hf_loss(model, ids):
    """Mean next-token loss over the batch: Hugging Face's shift-by-one with
    labels = input ids (B·(T−1) targets), for both model kinds."""
    if getattr(model, "is_plain", False):
        return model(ids, ids)
    return model(input_ids=ids, labels=ids, use_cache=False).loss


def plain_llama(torch, s):
    """LLaMA in plain PyTorch with Hugging Face's module names (so PEFT's
    target_modules would match), normal(0, 0.02) weights, untied lm_head;
    model(ids, labels) returns the mean next-token loss."""
    nn, F = torch.nn, torch.nn.functional

    def rope(x, cos, sin):
        h = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin

    class RMSNorm(nn.Module):
        def __init__(self, d, eps=1e-5):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))
            self.eps = eps

        def forward(self, x):
            x32 = x.float()
            return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            D, H, KV = s["dim"], s["heads"], s["kv_heads"]
            hd = D // H
            self.h, self.kv, self.hd = H, KV, hd
            self.q_proj = nn.Linear(D, H * hd, bias=False)
            self.k_proj = nn.Linear(D, KV * hd, bias=False)
            self.v_proj = nn.Linear(D, KV * hd, bias=False)
            self.o_proj = nn.Linear(H * hd, D, bias=False)

        def forward(self, x, cos, sin):
            B, T, _ = x.shape
            q = self.q_proj(x).view(B, T, self.h, self.hd).transpose(1, 2)
            k = self.k_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
            v = self.v_proj(x).view(B, T, self.kv, self.hd).transpose(1, 2)
            q, k = rope(q, cos, sin), rope(k, cos, sin)
            if self.kv != self.h:
                k = k.repeat_interleave(self.h // self.kv, 1)
                v = v.repeat_interleave(self.h // self.kv, 1)
            if hasattr(F, "scaled_dot_product_attention"):
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # PyTorch < 2.0
                mask = torch.full((T, T), float("-inf"), device=x.device).triu(1)
                p = torch.softmax((q @ k.transpose(-1, -2)).float() / math.sqrt(self.hd) + mask, -1).to(v.dtype)
                a = p @ v
            return self.o_proj(a.transpose(1, 2).reshape(B, T, -1))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            D, Fd = s["dim"], s["ffn"]
            self.gate_proj = nn.Linear(D, Fd, bias=False)
            self.up_proj = nn.Linear(D, Fd, bias=False)
            self.down_proj = nn.Linear(Fd, D, bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = RMSNorm(s["dim"])
            self.self_attn = Attention()
            self.post_attention_layernorm = RMSNorm(s["dim"])
            self.mlp = MLP()

        def forward(self, x, cos, sin):
            x = x + self.self_attn(self.input_layernorm(x), cos, sin)
            return x + self.mlp(self.post_attention_layernorm(x))

    class PlainLlama(nn.Module):
        is_plain = True

        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(s["vocab"], s["dim"])
            self.layers = nn.ModuleList([Layer() for _ in range(s["layers"])])
            self.norm = RMSNorm(s["dim"])
            self.lm_head = nn.Linear(s["dim"], s["vocab"], bias=False)
            hd = s["dim"] // s["heads"]
            inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
            f = torch.outer(torch.arange(s["seq"], dtype=torch.float32), inv)
            e = torch.cat((f, f), -1)
            self.register_buffer("cos", e.cos(), persistent=False)
            self.register_buffer("sin", e.sin(), persistent=False)
            with torch.no_grad():
                for m in self.modules():
                    if isinstance(m, (nn.Linear, nn.Embedding)):
                        m.weight.normal_(0, 0.02)

        def forward(self, ids, labels):
            x = self.embed_tokens(ids)
            T = ids.shape[1]
            cos, sin = self.cos[:T].to(x.dtype), self.sin[:T].to(x.dtype)
            for layer in self.layers:
                x = layer(x, cos, sin)
            logits = self.lm_head(self.norm(x)).float()
            return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))

    return PlainLlama()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flops", help="print one step's FLOPs (bench/gpu's rule) as JSON")
    f.add_argument("--mode", required=True, choices=["smt", "full", "lora"])
    for k in ("dim", "layers", "heads", "kv", "ffn", "vocab", "batch", "seq"):
        f.add_argument("--" + k, type=int, required=True)
    f.add_argument("--blocks", type=int, default=0)
    f.add_argument("--block-size", type=int, default=0)
    f.add_argument("--lowest", type=int, default=-1)
    f.add_argument("--rank", type=int, default=0)
    f.add_argument("--targets", default=",".join(LORA_TARGETS))
    a = ap.parse_args()
    s = dict(dim=a.dim, layers=a.layers, heads=a.heads, kv_heads=a.kv, ffn=a.ffn, vocab=a.vocab, batch=a.batch, seq=a.seq)
    print(json.dumps(step_flops(s, a.mode, a.blocks, a.block_size, a.lowest, a.rank, a.targets.split(","))))


if __name__ == "__main__":
    main()
