"""A timm ViT with a global-average-pool head and fc_norm (timm `global_pool='avg'`, which turns
the final norm into an identity and normalises the pooled patch tokens), for
`tests/parity_gap.rs`: weights, config and the reference outputs, attention probabilities and
attention gradients (autograd through timm's own model), for one input.

Versions: torch 2.15.0, timm 1.0.31. Run: python3 tests/data/gap/make_gap.py
"""
import json
from pathlib import Path

import numpy as np
import timm
import torch
from safetensors.torch import save_file

OUT = Path(__file__).parent
torch.manual_seed(5)
timm.layers.set_fused_attn(False)
m = timm.models.vision_transformer.VisionTransformer(
    img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=2, num_classes=3,
    global_pool="avg", class_token=True, qkv_bias=True,
).eval()
g = torch.Generator().manual_seed(6)
with torch.no_grad():
    for n, p in m.named_parameters():
        if n.endswith("attn.qkv.weight"):
            p.mul_(3.0)
        elif n.endswith(".bias"):
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        elif "norm" in n:
            p.add_(0.1 * torch.randn(p.shape, generator=g))
        elif n in ("cls_token", "pos_embed"):
            p.add_(0.5 * torch.randn(p.shape, generator=g))
        elif n == "head.weight":
            p.mul_(10.0)
assert isinstance(m.norm, torch.nn.Identity) and not isinstance(m.fc_norm, torch.nn.Identity)
sd = {k: v.detach().contiguous() for k, v in m.state_dict().items()}
save_file(sd, OUT / "weights.safetensors", metadata={"format": "pt"})
(OUT / "config.json").write_text(json.dumps({
    "num_heads": 2, "num_classes": 3, "global_pool": "avg", "fc_norm": True, "norm_eps": 1e-6,
    "img_size": 32, "patch_size": 8}) + "\n")
x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(7))
probs = []
def keep(_mod, _inp, out):
    out.retain_grad()
    probs.append(out)
hooks = [b.attn.attn_drop.register_forward_hook(keep) for b in m.blocks]
feats = m.forward_features(x)
logits = m.forward_head(feats)
target = 2
logits[0, target].backward()
for h in hooks:
    h.remove()
exp = {
    "input": x.contiguous(),
    "logits": logits.detach().contiguous(),
    "cls": feats[0, 0].detach().contiguous(),
    "patch_mean": feats[0, 1:].mean(0).detach().contiguous(),
    "attn_probs": torch.cat([p.detach() for p in probs]).contiguous(),
    "attn_grads": torch.cat([p.grad for p in probs]).contiguous(),
}
save_file(exp, OUT / "expected.safetensors", metadata={"format": "pt", "target": str(target)})
print({k: tuple(v.shape) for k, v in exp.items()})
