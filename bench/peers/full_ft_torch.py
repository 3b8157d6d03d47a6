#!/usr/bin/python3
"""PyTorch peer of bench/gpu -mode full: full fine-tuning of a LLaMA shape on one GPU.

The model is transformers' LlamaForCausalLM built from a LlamaConfig (random
weights, bf16, built on the device, nothing downloaded; the plain PyTorch LLaMA
of common_gpu.py when transformers is not installed). Mixed precision the way
our CUDA backend does it: bf16 weights, activations and gradients for the
forward and backward, fp32 master weights with fp32 gradients and AdamW moments
(torch.optim.AdamW, fused where available, β 0.9/0.95, no weight decay), global
norm clipping at 1.0, the bf16 weights rewritten from the masters after each
step. That is 2 + 2 + 4 + 4 + 8 = 20 bytes per parameter before activations
(ours: 18, no bf16 gradient copy). --master none instead runs torch AdamW
directly on the bf16 parameters (bf16 moments: 8 bytes per parameter).

Prints one JSON line (the fields of bench/gpu -json): tokens/s, MFU by
bench/gpu's FLOP rule, torch.cuda.max_memory_allocated() as peak memory.

  full_ft_torch.py --shape tinyllama-1.1b            # on the GPU machine
  full_ft_torch.py --device cpu --tiny --steps 1     # smoke test without a GPU
"""
import argparse
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common_gpu as C  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    C.add_common_args(ap, "tinyllama-1.1b")
    ap.add_argument("--master", default="fp32", choices=["fp32", "none"],
                    help="fp32: fp32 master weights, gradients and AdamW moments; none: AdamW on the bf16 weights")
    ap.add_argument("--grad-ckpt", default="off", choices=["off", "on"], help="gradient checkpointing (HF model only)")
    a = ap.parse_args()
    s = C.shape_from_args(a)
    r = C.result("torch-full", "full", s)
    torch = C.import_torch("torch-full", "full", s)
    if torch is None:
        return 0
    r["versions"] = C.versions()
    try:
        use_hf, why = C.want_hf(a.model)
    except ImportError:
        r["skipped"] = "transformers not installed"
        C.emit(r)
        return 0
    r["versions"] = C.versions()
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        r["error"] = "no CUDA device visible to PyTorch"
        C.emit(r)
        return 1
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    notes = [why] if why else []
    notes.append("fp32 master weights + AdamW" if a.master == "fp32" else "AdamW on bf16 weights")
    if a.grad_ckpt == "on":
        notes.append("gradient checkpointing")
    try:
        if a.measure_matmul:
            r["matmul_tflops"] = C.measure_matmul(torch, dev)
        meter = C.Meter(torch, dev)
        model = C.build_model(torch, s, dev, dtype, use_hf, a.seed)
        if a.grad_ckpt == "on" and use_hf:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        params = [p for p in model.parameters()]
        for p in params:
            p.requires_grad_(True)
        r["trained"] = sum(p.numel() for p in params)
        fused = {"fused": True} if dev.type == "cuda" else {}
        if a.master == "fp32":
            masters = [p.detach().float().clone() for p in params]
            for m in masters:
                m.requires_grad_(True)
                m.grad = torch.zeros_like(m)
            opt_params = masters
        else:
            masters, opt_params = None, params
        try:
            opt = torch.optim.AdamW(opt_params, lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0, **fused)
        except (TypeError, RuntimeError):
            opt = torch.optim.AdamW(opt_params, lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
        ids = C.random_ids(torch, s, dev, a.seed)
        copy = getattr(torch, "_foreach_copy_", None)

        def step():
            loss = C.hf_loss(model, ids)
            loss.backward()
            if masters is not None:
                grads = [p.grad for p in params]
                with torch.no_grad():
                    if copy is not None:
                        copy([m.grad for m in masters], grads)
                    else:
                        for m, g in zip(masters, grads):
                            m.grad.copy_(g)
            torch.nn.utils.clip_grad_norm_(opt_params, 1.0)
            opt.step()
            if masters is not None:
                with torch.no_grad():
                    if copy is not None:
                        copy(params, masters)
                    else:
                        for p, m in zip(params, masters):
                            p.copy_(m)
            model.zero_grad(set_to_none=True)
            return loss.detach()

        meter.reset_peak()
        C.log("%s full fine-tuning, %s, %d parameters" % (s["name"], "; ".join(notes), r["trained"]))
        times, losses = meter.run(step, a.warmup, a.steps)
    except Exception as e:  # report out of memory and the like as a result
        r["error"] = ("out of memory: " if C.is_oom(e) else "") + "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:300])
        r["notes"] = "; ".join(notes)
        C.emit(r)
        gc.collect()
        return 1
    C.finish(r, s, meter, times, losses, C.step_flops(s, "full"), a.peak_tflops)
    r["grad_ckpt"] = a.grad_ckpt == "on"
    r["notes"] = "; ".join(notes)
    C.emit(r)
    C.log("%s full: %.1f ms/step, %.0f tokens/s, peak %.2f GiB" % (
        s["name"], r["step_ms"], r.get("tokens_per_s", 0), r.get("peak_mem_bytes", 0) / 2 ** 30))
    return 1 if "error" in r else 0


if __name__ == "__main__":
    sys.exit(main())
