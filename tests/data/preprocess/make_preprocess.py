"""Writes the preprocessing parity cases of tests/preprocess.rs with Pillow, the resampler that
torchvision's `Resize` calls on PIL images.

For each size: a seeded RGB and grayscale 8-bit input (`in_<name>.png`), PIL's
`Image.resize((224, 224), Image.BILINEAR)` of it (`resize_<name>.png`, 8-bit, exactly what
`transforms.Resize([224, 224])` returns for a PIL image), and torchvision's `CenterCrop(224)`
(`crop_<name>.png`): pad with zeros by `(224 - W) // 2` before and the rest after when a side is
smaller, then crop at `int(round((W - 224) / 2))` (Python's round, half to even), which is
torchvision 0.29's `center_crop` written out. For the float path: a 16-bit grayscale input
(`in16_<name>.png`) and PIL's mode-F resize of its values / 65535 (`resizef_<name>.npy`).

Run with Pillow and numpy installed: python make_preprocess.py
"""
import numpy as np
from PIL import Image

SIZES = {
    "512x512": (512, 512),
    "301x229": (301, 229),
    "225x224": (225, 224),
    "223x300": (223, 300),
    "1000x37": (1000, 37),
    "100x150": (100, 150),
    "224x224": (224, 224),
}
S = 224


def center_crop(img):
    w, h = img.size
    if w < S or h < S:
        pad_l, pad_t = max(S - w, 0) // 2, max(S - h, 0) // 2
        canvas = Image.new(img.mode, (max(w, S), max(h, S)), 0)
        canvas.paste(img, (pad_l, pad_t))
        img = canvas
        w, h = img.size
    top, left = int(round((h - S) / 2.0)), int(round((w - S) / 2.0))
    return img.crop((left, top, left + S, top + S))


def pattern(w, h, c, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    smooth = 0.5 + 0.35 * np.sin(x / 7.0 + c) * np.cos(y / 11.0 - c)
    return np.clip(smooth + 0.15 * rng.standard_normal((h, w)), 0.0, 1.0)


rng = np.random.default_rng(0)
for name, (w, h) in SIZES.items():
    rgb = np.stack([pattern(w, h, c, rng) for c in range(3)], axis=-1)
    for tag, img in (
        ("rgb", Image.fromarray((rgb * 255).round().astype(np.uint8), "RGB")),
        ("gray", Image.fromarray((rgb[..., 0] * 255).round().astype(np.uint8), "L")),
    ):
        img.save(f"in_{tag}_{name}.png")
        img.resize((S, S), Image.BILINEAR).save(f"resize_{tag}_{name}.png")
        center_crop(img).save(f"crop_{tag}_{name}.png")
    v16 = (pattern(w, h, 0.3, rng) * 65535).round().astype(np.uint16)
    Image.fromarray(v16).save(f"in16_{name}.png")
    f = Image.fromarray((v16.astype(np.float32) / np.float32(65535)), "F")
    np.save(f"resizef_{name}.npy", np.asarray(f.resize((S, S), Image.BILINEAR), dtype=np.float32))

# With torch, torchvision and timm installed (torch 2.15, torchvision 0.29.2, timm 1.0.31 here):
# check that torchvision's own transforms give exactly these PNGs, and write the reference
# model's logits and last-block class-token attention (mean over heads, 14x14) for the inputs
# through `Resize([224, 224])` and through `CenterCrop(224)`: pipeline.json.
try:
    import json
    import torch
    import timm
    from safetensors.torch import load_file
    from torchvision import transforms as T
except ImportError:
    raise SystemExit("torch/torchvision/timm missing: pipeline.json not written")

norm = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
model = timm.create_model(
    "vit_base_patch16_224", pretrained=False, num_classes=2, embed_dim=192, depth=4, num_heads=3
).eval()
model.load_state_dict(load_file("../../../../shared/fixtures/reference/weights.safetensors"))
attn = {}


def keep(module, inputs, output):
    x = inputs[0]
    b, n, c = x.shape
    qkv = module.qkv(x).reshape(b, n, 3, module.num_heads, c // module.num_heads).permute(2, 0, 3, 1, 4)
    q, k = qkv[0], qkv[1]
    attn["last"] = ((q * module.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


model.blocks[-1].attn.register_forward_hook(keep)
out = {}
for name in SIZES:
    for tag in ("rgb", "gray"):
        src = Image.open(f"in_{tag}_{name}.png").convert("RGB")
        for mode, tf, png in (
            ("resize", T.Resize([S, S]), "resize"),
            ("center-crop", T.CenterCrop(S), "crop"),
        ):
            x = norm(T.ToTensor()(tf(src)))
            want = norm(T.ToTensor()(Image.open(f"{png}_{tag}_{name}.png").convert("RGB")))
            assert torch.equal(x, want), (mode, tag, name)
            with torch.no_grad():
                logits = model(x[None])[0]
            grid = attn["last"][0, :, 0, 1:].mean(0)
            out[f"{mode}/{tag}_{name}"] = {
                "logits": [float(v) for v in logits],
                "attention_14": [float(v) for v in grid],
            }
with open("pipeline.json", "w") as f:
    json.dump(out, f)
