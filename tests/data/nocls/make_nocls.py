"""timm ViTs without a class token (`class_token=False`, `global_pool='avg'`), for
`tests/parity_nocls.rs`: weights, config and reference values for one input each.

- `plain`: no prefix tokens at all, fc_norm (timm's default for 'avg'), native 32×32 input.
- `reg2`: two register tokens that carry position entries (`no_embed_class=False`), LayerScale,
  no fc_norm (the final norm is kept), a 40×48 input, so the grid entries are resampled.

Stored per case: logits, patch_mean (final norm output, patch tokens), attention probabilities
and their gradients for the target logit (autograd through timm's own model), and the maps as
vitscope defines them for a model without a class token: every map reads the query of the
output, which is the mean of the patch tokens, so each uses the mean of the patch tokens' rows
(attention of the last block, rollout, Chefer's generic rule), restricted to the patch keys;
GradCAM with pytorch-grad-cam on the last block's norm1 with the prefix tokens dropped.

Versions: torch 2.15.0, timm 1.0.31, grad-cam 1.5.7. Run: python3 tests/data/nocls/make_nocls.py
"""
import json
from pathlib import Path

import numpy as np
import timm
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from safetensors.torch import save_file

OUT = Path(__file__).parent
timm.layers.set_fused_attn(False)

CASES = [
    # name, seed, model kwargs, config fields, input (h, w), target
    ("plain", 21, dict(reg_tokens=0), {}, (32, 32), 1),
    ("reg2", 22, dict(reg_tokens=2, no_embed_class=False, init_values=0.3, fc_norm=False,
                      dynamic_img_size=True),
     {"reg_tokens": 2, "no_embed_class": False, "fc_norm": False}, (40, 48), 2),
]

for name, seed, kw, extra_cfg, (H, W), target in CASES:
    torch.manual_seed(seed)
    m = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=48, depth=3, num_heads=2, num_classes=3,
        global_pool="avg", class_token=False, qkv_bias=True, **kw,
    ).eval()
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("attn.qkv.weight"):
                p.mul_(3.0)
            elif n.endswith(".bias"):
                p.add_(0.05 * torch.randn(p.shape, generator=g))
            elif "norm" in n:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
            elif n in ("reg_token", "pos_embed"):
                p.add_(0.5 * torch.randn(p.shape, generator=g))
            elif n.endswith(".gamma"):
                p.copy_(0.2 + 0.2 * torch.rand(p.shape, generator=g))
            elif n == "head.weight":
                p.mul_(10.0)
    assert m.cls_token is None and m.num_prefix_tokens == kw["reg_tokens"]
    P = m.num_prefix_tokens
    sd = {k: v.detach().contiguous() for k, v in m.state_dict().items()}
    d = OUT / name
    d.mkdir(exist_ok=True)
    save_file(sd, d / "weights.safetensors", metadata={"format": "pt"})
    cfg = {"num_heads": 2, "num_classes": 3, "global_pool": "avg", "class_token": False,
           "norm_eps": 1e-6, "img_size": 32, "patch_size": 8, **extra_cfg}
    (d / "config.json").write_text(json.dumps(cfg) + "\n")

    x = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(seed + 2000))
    gh, gw = H // 8, W // 8
    probs = []

    def keep(_mod, _inp, out):
        out.retain_grad()
        probs.append(out)

    hooks = [b.attn.attn_drop.register_forward_hook(keep) for b in m.blocks]
    feats = m.forward_features(x)
    logits = m.forward_head(feats)
    logits[0, target].backward()
    for h in hooks:
        h.remove()
    A = [p.detach()[0].double() for p in probs]       # [H, N, N]
    G = [p.grad[0].double() for p in probs]
    N = A[0].shape[-1]
    eye = torch.eye(N, dtype=torch.float64)

    def out_row(mat):                                  # the mean of the patch rows, patch keys
        return mat[P:, :].mean(0)[P:]

    attention = out_row(A[-1].mean(0))
    rollout = None
    for a in A:
        aa = a.mean(0) + eye
        aa = aa / aa.sum(-1, keepdim=True)
        rollout = aa if rollout is None else aa @ rollout
    rollout = out_row(rollout)
    R = eye.clone()
    for a, gr in zip(A, G):
        cam = (gr * a).clamp(min=0).mean(0)
        R = R + cam @ R
    generic = out_row(R)

    def reshape(t):
        t = t[:, P:]
        return t.reshape(t.shape[0], gh, gw, t.shape[2]).permute(0, 3, 1, 2)

    cam = GradCAM(model=m, target_layers=[m.blocks[-1].norm1], reshape_transform=reshape)
    gradcam = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)],
                  eigen_smooth=False, aug_smooth=False)[0]
    f32 = lambda t: torch.as_tensor(np.asarray(t), dtype=torch.float32).contiguous()
    exp = {
        "input": x.contiguous(),
        "logits": logits.detach().contiguous(),
        "patch_mean": feats[0, P:].mean(0).detach().contiguous(),
        "attn_probs": torch.cat([p.detach() for p in probs]).contiguous(),
        "attn_grads": torch.cat([p.grad for p in probs]).contiguous(),
        "attention_grid": f32(attention.reshape(gh, gw)),
        "rollout_grid": f32(rollout.reshape(gh, gw)),
        "generic_grid": f32(generic.reshape(gh, gw)),
        "gradcam_map": f32(gradcam),
    }
    save_file(exp, d / "expected.safetensors",
              metadata={"format": "pt", "target": str(target), "h": str(H), "w": str(W)})
    print(name, {k: tuple(v.shape) for k, v in exp.items()})
