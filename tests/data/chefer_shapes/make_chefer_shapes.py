"""Chefer-relevance parity cases on model shapes other than the public fixture.

For each shape: a ViT whose weights come from a counter-based generator (splitmix64, which
`tests/parity_chefer_shapes.rs` reproduces bit for bit, so no weights are stored), an 8-bit image, and
the map of Chefer et al.'s own code (Transformer-Explainability: `baselines/ViT/ViT_LRP.py` with
`modules/layers_ours.py`, `LRP.generate_LRP(x, method="transformer_attribution", index=1)`) run
in float32 as the reference does, the same for the input moved by one unit in the last place
(`nextafter` towards +inf: how much the float32 reference itself moves under a rounding-sized
change), and the same code on a float64 copy of the model.

Nothing of Chefer's code is copied here: it is imported from a checkout given as CHEFER_DIR
(git clone https://github.com/hila-chefer/Transformer-Explainability). As in the public fixture,
`torch.Tensor.cuda` is made a no-op (no GPU) and the final norm's eps is set to 1e-6, timm's.

Versions used for the stored files: python 3.11.7, torch 2.15.0, timm 1.0.31, numpy, pillow 13,
safetensors, einops 0.8.2; Transformer-Explainability at c3e578f. Single thread.

Run: CHEFER_DIR=... python3 tests/data/chefer_shapes/make_chefer_shapes.py
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

OUT = Path(__file__).parent
CHEFER = os.environ.get("CHEFER_DIR")
if not CHEFER:
    sys.exit("set CHEFER_DIR to a checkout of Transformer-Explainability")
sys.path.insert(0, CHEFER)
torch.Tensor.cuda = lambda self, *a, **k: self
torch.set_num_threads(1)

import timm  # noqa: E402
from baselines.ViT.ViT_LRP import VisionTransformer as LrpViT  # noqa: E402
from baselines.ViT.ViT_explanation_generator import LRP  # noqa: E402

# name, dim, heads, depth, img, patch, seed
CASES = [
    ("d128_h4_b3", 128, 4, 3, 224, 16, 21),
    ("d96_h2_b2", 96, 2, 2, 112, 16, 22),
    ("d192_h6_b6", 192, 6, 6, 224, 16, 23),
    ("d64_h1_b4", 64, 1, 4, 96, 8, 24),
    ("d256_h8_b2", 256, 8, 2, 160, 16, 25),
]
MASK = (1 << 64) - 1


def splitmix(n, stream):
    """n uniforms in [0, 1) of splitmix64 stream `stream` (state = stream, outputs 1..n)."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(stream) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def names(depth):
    out = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"]
    for b in range(depth):
        for t in ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                  "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                  "mlp.fc2.weight", "mlp.fc2.bias"]:
            out.append(f"blocks.{b}.{t}")
    return out + ["norm.weight", "norm.bias", "head.weight", "head.bias"]


def base_scale(name):
    """(offset, half-width) of the uniform values of a tensor: timm's init std 0.02 as a uniform,
    q/k/v three times larger and a larger head so that the maps are not flat."""
    u = 0.02 * 3**0.5
    if name in ("cls_token", "pos_embed"):
        return 0.0, 0.5
    if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
        return 1.0, 0.1
    if name.endswith(".bias"):
        return 0.0, 0.02
    if name.endswith("qkv.weight"):
        return 0.0, 3 * u
    if name == "head.weight":
        return 0.0, 20 * u
    if name == "patch_embed.proj.weight":
        return 0.0, 0.05
    return 0.0, u


def weights(shapes, seed):
    sd = {}
    for t, (name, shape) in enumerate(shapes):
        n = int(np.prod(shape))
        base, scale = base_scale(name)
        u = splitmix(n, seed * 1_000_003 + t)
        sd[name] = torch.from_numpy((base + scale * (2.0 * u - 1.0)).astype(np.float32).reshape(shape))
    return sd
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def image(size, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    img = np.zeros((size, size, 3))
    for c in range(3):
        img[..., c] = 0.45 + 0.15 * np.sin(2 * np.pi * (rng.uniform(1, 4) * x + rng.uniform(1, 4) * y + rng.uniform()))
    cy, cx, r = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.08, 0.18)
    blob = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r)))
    img += blob[..., None] * np.array([0.5, 0.4, 0.2])
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def main():
    for name, dim, heads, depth, img_size, patch, seed in CASES:
        timm_model = timm.models.vision_transformer.VisionTransformer(
            img_size=img_size, patch_size=patch, embed_dim=dim, depth=depth, num_heads=heads,
            mlp_ratio=4.0, qkv_bias=True, num_classes=2,
        )
        shapes = {k: list(v.shape) for k, v in timm_model.state_dict().items()}
        order = names(depth)
        assert sorted(order) == sorted(shapes), "tensor names"
        sd = weights([(k, shapes[k]) for k in order], seed)
        timm_model.load_state_dict(sd, strict=True)
        lrp = LrpViT(img_size=img_size, patch_size=patch, in_chans=3, num_classes=2, embed_dim=dim,
                     depth=depth, num_heads=heads, mlp_ratio=4.0, qkv_bias=True)
        lrp.load_state_dict(sd, strict=True)
        lrp.norm.eps = 1e-6
        lrp.eval()
        u8 = image(img_size, seed)
        x = torch.from_numpy(((u8.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None].copy())
        grid = img_size // patch
        maps = {}
        for dtype, tag in [(torch.float32, "f32"), (torch.float64, "f64")]:
            m = lrp.to(dtype)
            out = m(x.to(dtype))
            r = LRP(m).generate_LRP(x.to(dtype), method="transformer_attribution", index=1)
            maps[f"chefer_grid_{tag}"] = r.detach().reshape(grid, grid).to(torch.float32).contiguous()
            maps[f"logits_{tag}"] = out.detach().to(torch.float32).contiguous()
        maps["logits_timm"] = timm_model(x).detach().contiguous()
        lrp.to(torch.float32)
        # The float32 reference's own conditioning: its map for the input moved by one ulp.
        x_ulp = torch.nextafter(x, torch.full_like(x, float("inf")))
        r = LRP(lrp).generate_LRP(x_ulp, method="transformer_attribution", index=1)
        maps["chefer_grid_f32_ulp"] = r.detach().reshape(grid, grid).contiguous()
        d = OUT / name
        d.mkdir(exist_ok=True)
        save_file(maps, d / "expected.safetensors", metadata={"format": "pt"})
        Image.fromarray(u8).save(d / "image.png")
        (d / "config.json").write_text(json.dumps({
            "num_heads": heads, "num_classes": 2, "embed_dim": dim, "depth": depth,
            "img_size": img_size, "patch_size": patch, "seed": seed}) + "\n")
        f32, f64 = maps["chefer_grid_f32"].numpy(), maps["chefer_grid_f64"].numpy()
        ulp = maps["chefer_grid_f32_ulp"].numpy()
        rel = lambda a, b: np.abs(a - b).max() / np.abs(b).max()
        print(f"{name}: float32 vs float64 {rel(f32, f64):.2e}, input moved by one ulp {rel(ulp, f32):.2e}"
              " (relative to the max)")


if __name__ == "__main__":
    main()
