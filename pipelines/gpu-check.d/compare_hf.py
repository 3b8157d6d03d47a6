#!/usr/bin/env python3
"""A merged model directory (bin/merge) against Hugging Face transformers.

  compare_hf.py weights --base DIR --delta FILE --merged DIR
      standard library only: every tensor of the merged model equals the
      base's with the delta's blocks written in (rounded to the base's
      dtype), bit for bit, and nothing else changed
  compare_hf.py hf --base DIR --delta FILE --merged DIR [--ours GEN.json...]
      needs torch and transformers:
      1. AutoModelForCausalLM.from_pretrained(merged, float32) loads with no
         missing, unexpected or mismatched tensors;
      2. the base loaded the same way, with the delta's blocks written into
         its weights in Python (NAME::blocks [k,S,S] f32 at NAME::index
         [k,2] i32, block units), holds the merged model's weights exactly
         and gives the same logits on a batch of token ids (fp32 tolerance:
         rel ≤ 1e-6; the delta must change them: rel ≥ 1e-4 from the base);
      3. for each GEN.json (`bin/evaluate generate --json` on the merged
         model, float32 on the CPU): transformers' greedy generate from the
         same prompt ids gives the same tokens, and the merged model's
         logits over prompt + our tokens pick each of our tokens (teacher
         forcing; the smallest top-1 margin is printed).
      --reference torch replaces transformers by a small LLaMA written here
      (for a dry run where transformers is missing; not used by the hook).

Exit status 0 when every comparison passes, 1 otherwise; the lines that
start with "result:" summarise, "--- FAIL:" lines say what failed.
"""

import argparse
import array
import json
import math
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtcheck  # noqa: E402  (the standard-library safetensors reader)

EOS_DEFAULT = 2


def _round_to(vals, dtype):
    if dtype == "F32":
        return array.array("f", vals)
    if dtype == "BF16":
        return smtcheck.bf16_round(vals)
    if dtype == "F16":
        import struct

        return array.array("f", (struct.unpack("<e", struct.pack("<e", v))[0] for v in vals))
    raise ValueError("dtype %s not supported" % dtype)


def cmd_weights(args):
    base = smtcheck.model_tensors(args.base)
    merged = smtcheck.model_tensors(args.merged)
    delta = smtcheck.delta_blocks(smtcheck.SafeTensors(args.delta))
    fails = []
    if sorted(base) != sorted(merged):
        fails.append("tensor names differ: only in base %s, only in merged %s"
                     % (sorted(set(base) - set(merged))[:5], sorted(set(merged) - set(base))[:5]))
    for name in delta:
        if name not in base:
            fails.append("the delta trains %s, which the base lacks" % name)
    patched = blocks = changed = 0
    for name in sorted(set(base) & set(merged)):
        b, m = base[name], merged[name]
        if b.dtype(name) != m.dtype(name) or b.shape(name) != m.shape(name):
            fails.append("%s: base %s %s, merged %s %s" % (name, b.dtype(name), b.shape(name), m.dtype(name), m.shape(name)))
            continue
        if name not in delta:
            lo, hi = b.header[name]["data_offsets"]
            lo2, hi2 = m.header[name]["data_offsets"]
            if b.raw[b.base + lo : b.base + hi] != m.raw[m.base + lo2 : m.base + hi2]:
                fails.append("%s: changed, but the delta does not train it" % name)
            continue
        vals, index, S = delta[name]
        w = b.get(name)
        cols = b.shape(name)[1]
        new = _round_to(vals, b.dtype(name))
        for i, (r, c) in enumerate(index):
            for k in range(S):
                start = (r * S + k) * cols + c * S
                w[start : start + S] = new[(i * S + k) * S : (i * S + k + 1) * S]
        got = m.get(name)
        if w.tobytes() != got.tobytes():
            bad = sum(1 for x, y in zip(w, got) if x != y)
            fails.append("%s: %d values differ from base + delta" % (name, bad))
        patched += 1
        blocks += len(index)
        changed += sum(1 for x, y in zip(b.get(name), got) if x != y)
    for f in fails:
        print("--- FAIL: weights: " + f)
    if fails:
        return 1
    print("result: merged = base + delta bit for bit (%d tensors, %d patched with %d blocks, %d values changed)"
          % (len(merged), patched, blocks, changed))
    return 0


# --- a small LLaMA in torch (--reference torch) ------------------------------------


def _reference_model(model_dir, torch):
    """A minimal LlamaForCausalLM look-alike (Hugging Face's layout, rotate-half
    RoPE, GQA, tied or separate head) for dry runs without transformers."""
    import torch.nn.functional as F

    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    sts = smtcheck.model_tensors(model_dir)
    params = {}
    for name, st in sts.items():
        params[name] = torch.tensor(list(st.get(name)), dtype=torch.float32).reshape(st.shape(name))

    class Out:
        pass

    class Ref:
        def __init__(self):
            self.cfg = cfg
            self.p = params
            if "lm_head.weight" not in self.p:
                self.p["lm_head.weight"] = self.p["model.embed_tokens.weight"]

        def to(self, dev):
            for k in self.p:
                self.p[k] = self.p[k].to(dev)
            return self

        def eval(self):
            return self

        def get_parameter(self, name):
            return self.p[name]

        def state_dict(self):
            return dict(self.p)

        def __call__(self, input_ids, attention_mask=None):
            c, p = self.cfg, self.p
            H, KV = c["num_attention_heads"], c["num_key_value_heads"]
            D = c.get("head_dim") or c["hidden_size"] // H
            eps = c["rms_norm_eps"]
            B, T = input_ids.shape

            def norm(x, w):
                return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

            inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, D, 2, dtype=torch.float32, device=input_ids.device) / D))
            fr = torch.arange(T, dtype=torch.float32, device=input_ids.device)[:, None] * inv[None, :]
            emb = torch.cat([fr, fr], -1)
            cos, sin = emb.cos(), emb.sin()

            def rot(x):
                x1, x2 = x[..., : D // 2], x[..., D // 2 :]
                return torch.cat([-x2, x1], -1)

            mask = torch.full((T, T), float("-inf"), device=input_ids.device).triu(1)
            x = p["model.embed_tokens.weight"][input_ids]
            for i in range(c["num_hidden_layers"]):
                pre = "model.layers.%d." % i
                h = norm(x, p[pre + "input_layernorm.weight"])
                q = F.linear(h, p[pre + "self_attn.q_proj.weight"]).view(B, T, H, D).transpose(1, 2)
                k = F.linear(h, p[pre + "self_attn.k_proj.weight"]).view(B, T, KV, D).transpose(1, 2)
                v = F.linear(h, p[pre + "self_attn.v_proj.weight"]).view(B, T, KV, D).transpose(1, 2)
                q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
                k = k.repeat_interleave(H // KV, dim=1)
                v = v.repeat_interleave(H // KV, dim=1)
                a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, -1) @ v
                x = x + F.linear(a.transpose(1, 2).reshape(B, T, H * D), p[pre + "self_attn.o_proj.weight"])
                h = norm(x, p[pre + "post_attention_layernorm.weight"])
                g = F.linear(h, p[pre + "mlp.gate_proj.weight"])
                u = F.linear(h, p[pre + "mlp.up_proj.weight"])
                x = x + F.linear(F.silu(g) * u, p[pre + "mlp.down_proj.weight"])
            o = Out()
            o.logits = F.linear(norm(x, p["model.norm.weight"]), p["lm_head.weight"])
            return o

        def generate(self, input_ids, max_new_tokens, eos_token_id=None, **_):
            ids = input_ids
            for _ in range(max_new_tokens):
                nxt = self(ids).logits[:, -1].argmax(-1, keepdim=True)
                ids = torch.cat([ids, nxt], 1)
                if eos_token_id is not None and int(nxt[0, 0]) == eos_token_id:
                    break
            return ids

    return Ref(), {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}


def _load_hf(model_dir, transformers, torch):
    from transformers import AutoModelForCausalLM

    ver = tuple(int(x) for x in transformers.__version__.split(".")[:2] if x.isdigit())
    kw = {"dtype": torch.float32} if ver >= (4, 56) else {"torch_dtype": torch.float32}
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, output_loading_info=True, **kw)
    return model, info


def _cut_eos(ids, eos):
    return ids[: ids.index(eos)] if eos in ids else list(ids)


def cmd_hf(args):
    try:
        import torch
    except ImportError as e:
        print("--- FAIL: torch not importable: %s" % e)
        return 1
    transformers = None
    if args.reference == "transformers":
        try:
            import transformers
        except ImportError as e:
            print("--- FAIL: transformers not importable: %s" % e)
            return 1
        print("torch %s, transformers %s, python %s" % (torch.__version__, transformers.__version__, sys.version.split()[0]))
    else:
        print("torch %s, the reference LLaMA of this script (not transformers), python %s" % (torch.__version__, sys.version.split()[0]))
    who = "transformers" if args.reference == "transformers" else "the reference"
    dev = args.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda") and not torch.cuda.is_available():
        print("--- FAIL: --device %s but torch.cuda.is_available() is False (torch %s, CUDA %s)" % (dev, torch.__version__, torch.version.cuda))
        return 1
    if dev.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        print("device: %s (%s)" % (dev, torch.cuda.get_device_name(torch.device(dev))))
    else:
        print("device: %s" % dev)
    torch.manual_seed(0)
    fails = []

    def load(d):
        if args.reference == "torch":
            m, info = _reference_model(d, torch)
        else:
            m, info = _load_hf(d, transformers, torch)
        return m.to(dev).eval(), info

    with open(os.path.join(args.merged, "config.json")) as f:
        cfg = json.load(f)
    eos = cfg.get("eos_token_id", EOS_DEFAULT)
    if isinstance(eos, list):
        eos = eos[0]
    vocab = cfg["vocab_size"]

    # 1. The merged directory loads as it is.
    merged, info = load(args.merged)
    dtypes = sorted({str(p.dtype) for p in merged.state_dict().values()})
    tied = cfg.get("tie_word_embeddings", False)
    missing = [k for k in info.get("missing_keys", []) if not k.endswith("rotary_emb.inv_freq") and not (tied and k == "lm_head.weight")]
    problems = {"missing": missing, "unexpected": list(info.get("unexpected_keys", [])),
                "mismatched": [str(x) for x in info.get("mismatched_keys", [])]}
    for kind, keys in problems.items():
        if keys:
            fails.append("loading %s: %d %s tensors: %s" % (args.merged, len(keys), kind, keys[:5]))
    if dtypes != ["torch.float32"]:
        fails.append("loaded dtypes %s, want float32" % dtypes)
    print("loaded %s: %s, %d tensors, no missing/unexpected/mismatched: %s"
          % (args.merged, ", ".join(dtypes), len(merged.state_dict()), not any(problems.values())))

    # 2. The base with the delta written in by Python.
    base, _ = load(args.base)
    S_all = smtcheck.delta_blocks(smtcheck.SafeTensors(args.delta))
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(3, vocab, (4, 64), generator=g)
    ids[:, 0] = cfg.get("bos_token_id", 1)
    ids = ids.to(dev)
    with torch.no_grad():
        logits_base = base(ids).logits.float()
        nblocks = 0
        for name, (vals, index, S) in S_all.items():
            p = base.get_parameter(name)
            blk = torch.tensor(list(vals), dtype=torch.float32).reshape(len(index), S, S).to(p.device, p.dtype)
            for i, (r, c) in enumerate(index):
                p[r * S : (r + 1) * S, c * S : (c + 1) * S] = blk[i]
                nblocks += 1
        sd_m, sd_b = merged.state_dict(), base.state_dict()
        wdiff = 0.0
        for k in sd_m:
            if k in sd_b:
                wdiff = max(wdiff, (sd_m[k].float() - sd_b[k].float()).abs().max().item())
        logits_m = merged(ids).logits.float()
        logits_p = base(ids).logits.float()
    rel = ((logits_m - logits_p).norm() / logits_m.norm()).item()
    mx = (logits_m - logits_p).abs().max().item()
    moved = ((logits_m - logits_base).norm() / logits_base.norm()).item()
    print("base + delta in Python (%d blocks of %d tensors): max weight difference from the merged model %.3g" % (nblocks, len(S_all), wdiff))
    print("logits on %s random ids: merged vs base + delta: rel %.3g, max abs %.3g (bound rel 1e-6); merged vs base: rel %.3g"
          % ("×".join(str(x) for x in ids.shape), rel, mx, moved))
    if wdiff != 0:
        fails.append("the merged weights differ from base + delta by up to %.3g" % wdiff)
    if not rel <= 1e-6:
        fails.append("logits merged vs base + delta: rel %.3g > 1e-6" % rel)
    if not moved >= 1e-4:
        fails.append("the delta barely changes the logits (rel %.3g from the base): nothing trained?" % moved)

    # 3. Greedy continuations: ours (bin/evaluate generate --json) against
    # transformers' generate and the merged model's teacher-forced argmax.
    agree_all = True
    min_margin = math.inf
    n_tok = 0
    for path in args.ours:
        with open(path) as f:
            ours = json.load(f)
        prompt, mine = ours["prompt_ids"], ours["ids"]
        x = torch.tensor([prompt], device=dev)
        with torch.no_grad():
            gen_kw = dict(max_new_tokens=len(mine), do_sample=False, num_beams=1, eos_token_id=eos)
            if args.reference == "transformers":
                gen_kw.update(attention_mask=torch.ones_like(x), pad_token_id=eos, repetition_penalty=1.0)
            out = merged.generate(x, **gen_kw)
            theirs = out[0, len(prompt) :].tolist()
            seq = torch.tensor([prompt + mine], device=dev)
            lg = merged(seq).logits[0].float()
        a, b = _cut_eos(mine, eos), _cut_eos(theirs, eos)
        first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), None)
        if first is None and len(a) != len(b):
            first = min(len(a), len(b))
        # Teacher forcing: position len(prompt)-1+t predicts our token t.
        tf_bad = []
        for t, tok in enumerate(mine):
            row = lg[len(prompt) - 1 + t]
            top2 = torch.topk(row, 2)
            if int(top2.indices[0]) != tok:
                tf_bad.append((t, tok, int(top2.indices[0]), (top2.values[0] - row[tok]).item()))
            else:
                min_margin = min(min_margin, (top2.values[0] - top2.values[1]).item())
        n_tok += len(mine)
        label = "%r" % ours.get("prompt", "")[:40]
        if first is None and not tf_bad:
            print("greedy %s (%d prompt ids): %d tokens, ours = %s's generate = teacher-forced argmax" % (label, len(prompt), len(a), who))
        else:
            agree_all = False
            msg = "greedy %s: " % label
            if first is not None:
                msg += "ours and generate part at new token %d (ours %s, theirs %s); " % (
                    first + 1, a[first] if first < len(a) else "end", b[first] if first < len(b) else "end")
            if tf_bad:
                t, tok, top, gap = tf_bad[0]
                msg += "%d teacher-forced argmax disagree, first at token %d (ours %d, theirs %d, their logit gap %.3g)" % (
                    len(tf_bad), t + 1, tok, top, gap)
            fails.append(msg)
            print("ours:   %s" % mine)
            print("theirs: %s" % theirs)
    if args.ours:
        print("greedy: %d tokens over %d prompts; smallest top-1 margin of the merged model's logits %.3g" % (n_tok, len(args.ours), min_margin))
    for f in fails:
        print("--- FAIL: " + f)
    if fails:
        return 1
    line = "result: loads clean; logits = base+delta (rel %.1g)" % rel
    if args.ours:
        line += "; greedy %d/%d tokens = %s" % (n_tok, n_tok, who)
    print(line)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    for name in ("weights", "hf"):
        s = sub.add_parser(name)
        s.add_argument("--base", required=True, help="base model directory")
        s.add_argument("--delta", required=True, help="delta.safetensors")
        s.add_argument("--merged", required=True, help="bin/merge's output directory")
        if name == "hf":
            s.add_argument("--ours", nargs="*", default=[], help="bin/evaluate generate --json outputs on the merged model")
            s.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
            s.add_argument("--reference", choices=["transformers", "torch"], default="transformers")
    args = p.parse_args()
    if args.cmd == "weights":
        return cmd_weights(args)
    if args.cmd == "hf":
        return cmd_hf(args)
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
