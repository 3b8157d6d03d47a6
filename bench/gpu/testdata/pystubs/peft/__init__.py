"""Stand-in for peft: LoraConfig and get_peft_model adding rank-r adapters
(fp32, B zero) to the named linear layers (see ../README.md)."""
import torch

__version__ = "stub"


class LoraConfig:
    def __init__(self, r, lora_alpha, lora_dropout, target_modules, bias, task_type):
        assert bias == "none" and task_type == "CAUSAL_LM"
        self.r, self.alpha, self.dropout, self.targets = r, lora_alpha, lora_dropout, list(target_modules)


class _LoRALinear(torch.nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = torch.nn.Parameter(torch.randn(r, base.in_features, device=base.weight.device) * 0.01)
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, r, device=base.weight.device))
        self.scale = alpha / r

    def forward(self, x):
        y = self.base(x)
        return y + ((x.float() @ self.lora_A.t()) @ self.lora_B.t() * self.scale).to(y.dtype)


class _PeftModel(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.base_model = model

    def forward(self, **kw):
        return self.base_model(**kw)


def get_peft_model(model, cfg):
    for p in model.parameters():
        p.requires_grad_(False)
    for name, mod in list(model.named_modules()):
        for cname, child in list(mod.named_children()):
            if isinstance(child, torch.nn.Linear) and cname in cfg.targets:
                setattr(mod, cname, _LoRALinear(child, cfg.r, cfg.alpha))
    return _PeftModel(model)
