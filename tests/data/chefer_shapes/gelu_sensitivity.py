"""How much the reference's Chefer map depends on its GELU, on the shapes of
`make_chefer_shapes.py`: the map of Chefer's own code as it runs, against the same code with the
forward GELU's values replaced by the exact GELU (float64 erf, rounded to float32; the gradient
is PyTorch's own, so only the forward values change).

PyTorch 2.15 hands contiguous float32 tensors to oneDNN (v3.13.3 here), whose AVX-512
`gelu_erf` is a piecewise minimax polynomial, up to 1.2e-6 from the exact GELU (its backward an
Abramowitz-Stegun form, up to 3e-7 from the exact derivative). vitscope computes the exact GELU.
Measured on this machine (relative to the map's maximum):
    d128_h4_b3 3.0e-5, d96_h2_b2 1.6e-6, d192_h6_b6 5.6e-5, d64_h1_b4 8.6e-7, d256_h8_b2 1.1e-5
Nothing is written; the figures are quoted in README.

Run: CHEFER_DIR=... python3 tests/data/chefer_shapes/gelu_sensitivity.py
"""
import importlib.util
import math
from pathlib import Path

import numpy as np
import torch

spec = importlib.util.spec_from_file_location("shapes", Path(__file__).with_name("make_chefer_shapes.py"))
shapes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shapes)  # puts CHEFER_DIR on sys.path
import modules.layers_ours as layers  # noqa: E402  (Chefer's code, from CHEFER_DIR)

as_it_runs = layers.GELU.forward


def exact_values(self, x):
    xd = x.detach().double()
    exact = (0.5 * xd * (1 + torch.erf(xd / math.sqrt(2)))).float()
    g = torch.nn.functional.gelu(x)
    return g + (exact - g).detach()


for name, dim, heads, depth, img_size, patch, seed in shapes.CASES:
    t = shapes.timm.models.vision_transformer.VisionTransformer(
        img_size=img_size, patch_size=patch, embed_dim=dim, depth=depth, num_heads=heads,
        mlp_ratio=4.0, qkv_bias=True, num_classes=2)
    tensor_shapes = {k: list(v.shape) for k, v in t.state_dict().items()}
    sd = shapes.weights([(k, tensor_shapes[k]) for k in shapes.names(depth)], seed)
    lrp = shapes.LrpViT(img_size=img_size, patch_size=patch, in_chans=3, num_classes=2,
                        embed_dim=dim, depth=depth, num_heads=heads, mlp_ratio=4.0, qkv_bias=True)
    lrp.load_state_dict(sd, strict=True)
    lrp.norm.eps = 1e-6
    lrp.eval()
    u8 = shapes.image(img_size, seed)
    x = torch.from_numpy(((u8.astype(np.float32) / 255.0 - shapes.MEAN) / shapes.STD)
                         .transpose(2, 0, 1)[None].copy())
    maps = []
    for forward in (as_it_runs, exact_values):
        layers.GELU.forward = forward
        r = shapes.LRP(lrp).generate_LRP(x, method="transformer_attribution", index=1)
        maps.append(r.detach().numpy().ravel())
    layers.GELU.forward = as_it_runs
    moved = np.abs(maps[0] - maps[1]).max() / np.abs(maps[0]).max()
    print(f"{name}: the reference map moves by {moved:.1e} with the exact GELU")
