#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for package llama.

Run with Debian's PyTorch:  /usr/bin/python3 pkg/llama/testdata/gen_fixture.py

For each configuration below it writes testdata/<name>/:
  config.json            a Hugging Face LlamaForCausalLM config
  model.safetensors      random float32 weights (Hugging Face tensor names)
  expected.safetensors   for several batches: input ids, labels (-100 = masked),
                         logits and the loss, computed in float64 with the math
                         of Hugging Face's LlamaForCausalLM (written out below:
                         RMSNorm, RoPE on halves, grouped-query causal attention,
                         SwiGLU, tied or untied head, shifted cross-entropy).

The safetensors files are written by the small writer at the bottom (the
`safetensors` Python package is not in Debian 12); the Go side reads them
with its own reader.
"""
import json
import math
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def save_safetensors(path, tensors, metadata=None):
    dtypes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def inv_freq(cfg):
    hd = cfg["head_dim"]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wl, high_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < high_wl) * ~(wl > low_wl)
        inv = torch.where(medium, smoothed, scaled)
    return inv  # float32, as Hugging Face keeps it


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, ids):
    """Logits [B, T, V] for ids [B, T], in the weights' dtype."""
    B, T = ids.shape
    D, H, KV, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    pos = torch.arange(T, dtype=torch.float32)
    freqs = torch.outer(pos, inv_freq(cfg))  # float32 angles, as HF
    emb = torch.cat((freqs, freqs), dim=-1)
    dt = W["model.embed_tokens.weight"].dtype  # float64 for references, float32 for the AdamW run
    cos, sin = emb.cos().to(dt), emb.sin().to(dt)  # [T, hd]
    x = W["model.embed_tokens.weight"][ids]
    mask = torch.full((T, T), float("-inf"), dtype=dt).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1) @ v
        att = att.transpose(1, 2).reshape(B, T, H * hd)
        x = x + att @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def loss_fn(logits, labels):
    """Hugging Face's causal-LM loss: position t predicts labels[t+1]."""
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


def make_weights(cfg, gen):
    D, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    W = {}

    def mat(name, r, c, std=0.2):
        W[name] = (torch.randn(r, c, generator=gen) * std).float()

    def vec(name, n):
        W[name] = (1 + 0.1 * torch.randn(n, generator=gen)).float()

    mat("model.embed_tokens.weight", V, D, 1.0)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        vec(p + "input_layernorm.weight", D)
        mat(p + "self_attn.q_proj.weight", H * hd, D)
        mat(p + "self_attn.k_proj.weight", KV * hd, D)
        mat(p + "self_attn.v_proj.weight", KV * hd, D)
        mat(p + "self_attn.o_proj.weight", D, H * hd)
        vec(p + "post_attention_layernorm.weight", D)
        mat(p + "mlp.gate_proj.weight", F, D)
        mat(p + "mlp.up_proj.weight", F, D)
        mat(p + "mlp.down_proj.weight", D, F)
    vec("model.norm.weight", D)
    if not cfg["tie_word_embeddings"]:
        mat("lm_head.weight", V, D)
    return W


CONFIGS = {
    # Grouped-query attention, rope_theta other than 10000, untied head.
    "tiny-gqa": dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5, rope_theta=500000.0,
                     rope_scaling=None, tie_word_embeddings=False, vocab_size=97),
    # LLaMA-3.1 rope scaling, tied embeddings, head_dim set explicitly, 1 KV head.
    "tiny-llama3": dict(hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=3,
                        num_key_value_heads=1, head_dim=16, rms_norm_eps=1e-6, rope_theta=500000.0,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                          high_freq_factor=4.0, original_max_position_embeddings=64),
                        tie_word_embeddings=True, vocab_size=61),
}

BATCHES = [(1, 1), (2, 7), (3, 33), (1, 96)]

# Training fixture: one masked batch, the loss and every parameter's
# gradient, then AdamW steps with gradient clipping on the same batch.
TRAIN = dict(model="tiny-gqa", B=3, T=12, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, clip=1.0, steps=5)


def train_fixture():
    name = TRAIN["model"]
    d = os.path.join(HERE, name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    W = {}
    from_file = load_safetensors(os.path.join(d, "model.safetensors"))
    gen = torch.Generator().manual_seed(99)
    B, T = TRAIN["B"], TRAIN["T"]
    ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
    labels = ids.clone()
    for b, p in enumerate([3, 0, 7]):
        labels[b, :p] = -100
    params = {k: v.double().clone().requires_grad_(True) for k, v in from_file.items()}
    loss = loss_fn(forward(cfg, params, ids), labels)
    loss.backward()
    out = {"ids": ids, "labels": labels, "loss": loss.detach().reshape(1)}
    for k, v in params.items():
        out["grad." + k] = v.grad.float()
    # AdamW steps in float32, as the Go trainer runs them.
    p32 = {k: v.float().clone().requires_grad_(True) for k, v in from_file.items()}
    opt = torch.optim.AdamW(list(p32.values()), lr=TRAIN["lr"], betas=TRAIN["betas"], eps=TRAIN["eps"],
                            weight_decay=TRAIN["weight_decay"])
    losses, norms = [], []
    for _ in range(TRAIN["steps"]):
        opt.zero_grad()
        l = loss_fn(forward(cfg, p32, ids), labels)
        l.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(p32.values()), TRAIN["clip"])))
        opt.step()
        losses.append(float(l))
    out["adamw.losses"] = torch.tensor(losses, dtype=torch.float64)
    out["adamw.grad_norms"] = torch.tensor(norms, dtype=torch.float64)
    for k, v in p32.items():
        out["adamw.final." + k] = v.detach()
    meta = {k: json.dumps(v) for k, v in TRAIN.items()}
    save_safetensors(os.path.join(d, "train.safetensors"), out, meta)
    print(name, "training fixture written")


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        assert v["dtype"] == "F32"
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(v["shape"])
    return out


def main():
    for name, c in CONFIGS.items():
        gen = torch.Generator().manual_seed(1234)
        cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu",
                   max_position_embeddings=256, bos_token_id=1, eos_token_id=2, torch_dtype="float32", **c)
        W = make_weights(cfg, gen)
        out = os.path.join(HERE, name)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        save_safetensors(os.path.join(out, "model.safetensors"), W, {"format": "pt"})
        W64 = {k: v.double() for k, v in W.items()}
        exp = {}
        for i, (B, T) in enumerate(BATCHES):
            ids = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
            labels = ids.clone()
            # Mask a random prefix of each sequence (the "prompt"), as SMT does.
            for b in range(B):
                labels[b, : int(torch.randint(0, T, (1,), generator=gen))] = -100
            logits = forward(cfg, W64, ids)
            exp[f"b{i}.ids"] = ids
            exp[f"b{i}.labels"] = labels
            exp[f"b{i}.logits"] = logits.float()
            if T > 1 and (labels[:, 1:] != -100).any():
                exp[f"b{i}.loss"] = loss_fn(logits, labels).reshape(1)
        save_safetensors(os.path.join(out, "expected.safetensors"), exp, {"batches": json.dumps(BATCHES)})
        print(name, "written")
    train_fixture()


if __name__ == "__main__":
    main()
