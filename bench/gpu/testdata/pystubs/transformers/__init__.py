"""Stand-in for transformers: LlamaConfig and LlamaForCausalLM on top of
bench/peers/common_gpu.py's plain LLaMA (see ../README.md)."""
import os
import types

import torch

import common_gpu

__version__ = "stub"


class LlamaConfig:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class LlamaForCausalLM(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        s = dict(dim=cfg.hidden_size, layers=cfg.num_hidden_layers, heads=cfg.num_attention_heads,
                 kv_heads=cfg.num_key_value_heads, ffn=cfg.intermediate_size, vocab=cfg.vocab_size,
                 seq=cfg.max_position_embeddings)
        self.config = cfg
        self.model = common_gpu.plain_llama(torch, s)
        self.checkpointing = False
        self.oom_once = os.environ.get("STUB_OOM") == "1"

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None):
        assert gradient_checkpointing_kwargs == {"use_reentrant": False}
        self.checkpointing = True

    def forward(self, input_ids=None, labels=None, use_cache=None):
        assert use_cache is False
        if self.oom_once and not self.checkpointing:
            raise RuntimeError("CUDA out of memory. Tried to allocate 1.00 GiB (stub)")
        return types.SimpleNamespace(loss=self.model(input_ids, labels))
