#!/usr/bin/python3
"""PyTorch + PEFT LoRA peer of bench/gpu -mode smt (issue 8): one training step
of LoRA r=32 on q, k, v, up and down projections, the setting SMT's paper
compares with at about the same number of trained values (0.83% of LLaMA-2-7B).

The model is transformers' LlamaForCausalLM built from a LlamaConfig: random
bf16 weights created directly on the GPU (no float32 copy, nothing downloaded),
SDPA attention, use_cache off, training mode. PEFT's LoraConfig(r=32,
lora_alpha=64, lora_dropout=0) with its defaults otherwise (the adapters are
kept in fp32, PEFT's autocast_adapter_dtype). torch AdamW (fused; β 0.9/0.95,
no weight decay) over the adapters, clipping at 1.0, as our SMT step does.
Gradient checkpointing is off by default. Whether LLaMA-2-7B at batch 16 × 512
fits an 80 GB card without it is not yet measured; an estimate: 13.5 GB of
weights, roughly 1.2–1.5 GB of saved activations per layer (40–50 GB for 32
layers) and fp32 logits (1 GB, as much again for their gradient). --grad-ckpt
auto retries with checkpointing when the step runs out of memory and says so
in the result.

Prints one JSON line with the fields of bench/gpu -json: tokens/s, MFU by
bench/gpu's FLOP rule (forward 2N, input gradients, attention, plus the
adapters' 6·r·(in+out) per token), torch.cuda.max_memory_allocated().
Without transformers or peft it prints {"skipped": "peft not installed"} (or
transformers) and exits 0.

  lora_peft.py                                   # LLaMA-2-7B shape, batch 16 × 512
  lora_peft.py --device cpu --tiny --steps 1     # smoke test without a GPU
"""
import argparse
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common_gpu as C  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    C.add_common_args(ap, "llama2-7b")
    ap.add_argument("--rank", type=int, default=32, help="LoRA rank r")
    ap.add_argument("--alpha", type=float, default=64, help="LoRA alpha")
    ap.add_argument("--dropout", type=float, default=0.0, help="LoRA dropout (0 for timing)")
    ap.add_argument("--targets", default=",".join(C.LORA_TARGETS), help="adapted modules")
    ap.add_argument("--grad-ckpt", default="off", choices=["off", "on", "auto"],
                    help="gradient checkpointing: off, on, or auto (off, retried on when out of memory)")
    a = ap.parse_args()
    s = C.shape_from_args(a)
    r = C.result("peft-lora", "lora", s)
    torch = C.import_torch("peft-lora", "lora", s)
    if torch is None:
        return 0
    if a.model == "plain":
        r["skipped"] = "the LoRA peer needs transformers' model (--model hf)"
        C.emit(r)
        return 0
    for mod, name in (("transformers", "transformers"), ("peft", "peft")):
        try:
            __import__(mod)
        except ImportError:
            r["versions"] = C.versions()
            r["skipped"] = name + " not installed"
            C.emit(r)
            return 0
    from peft import LoraConfig, get_peft_model

    r["versions"] = C.versions()
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        r["error"] = "no CUDA device visible to PyTorch"
        C.emit(r)
        return 1
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    targets = a.targets.split(",")
    notes = ["LoRA r=%d alpha=%g dropout=%g on %s" % (a.rank, a.alpha, a.dropout, "/".join(t.replace("_proj", "") for t in targets))]
    meter = C.Meter(torch, dev)
    try:
        if a.measure_matmul:
            r["matmul_tflops"] = C.measure_matmul(torch, dev)
        base = C.build_model(torch, s, dev, dtype, True, a.seed)
        cfg = LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=a.dropout, target_modules=targets, bias="none",
                         task_type="CAUSAL_LM")
        model = get_peft_model(base, cfg)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        r["trained"] = sum(p.numel() for p in params)
        r["adapter_dtype"] = str(params[0].dtype).replace("torch.", "") if params else ""
        fused = {"fused": True} if dev.type == "cuda" else {}
        try:
            opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0, **fused)
        except (TypeError, RuntimeError):
            opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
        ids = C.random_ids(torch, s, dev, a.seed)

        def step():
            loss = C.hf_loss(model, ids)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss.detach()

        def enable_ckpt():
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            base.train()

        ckpt = a.grad_ckpt == "on"
        if ckpt:
            enable_ckpt()
        meter.reset_peak()
        C.log("%s LoRA: %d trained values (%s), gradient checkpointing %s" % (s["name"], r["trained"], r["adapter_dtype"], a.grad_ckpt))
        oom = False
        try:
            times, losses = meter.run(step, a.warmup, a.steps)
        except Exception as e:
            if not (C.is_oom(e) and a.grad_ckpt == "auto"):
                raise
            oom = True  # retried below, once the traceback's tensors are gone
        if oom:
            C.log("out of memory without gradient checkpointing; retrying with it")
            notes.append("out of memory without gradient checkpointing (peak %.1f GiB); measured with it"
                         % (meter.memory()["peak_mem_bytes"] / 2 ** 30))
            opt.zero_grad(set_to_none=True)
            gc.collect()
            if meter.cuda:
                torch.cuda.empty_cache()
            enable_ckpt()
            ckpt = True
            meter.reset_peak()
            times, losses = meter.run(step, a.warmup, a.steps)
    except Exception as e:
        r["error"] = ("out of memory: " if C.is_oom(e) else "") + "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:300])
        r["notes"] = "; ".join(notes)
        C.emit(r)
        return 1
    if ckpt:
        notes.append("gradient checkpointing")
    C.finish(r, s, meter, times, losses, C.step_flops(s, "lora", rank=a.rank, targets=targets), a.peak_tflops)
    r["grad_ckpt"] = ckpt
    r["notes"] = "; ".join(notes)
    C.emit(r)
    C.log("%s LoRA: %.1f ms/step, %.0f tokens/s, peak %.2f GiB" % (
        s["name"], r["step_ms"], r.get("tokens_per_s", 0), r.get("peak_mem_bytes", 0) / 2 ** 30))
    return 1 if "error" in r else 0


if __name__ == "__main__":
    sys.exit(main())
