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
