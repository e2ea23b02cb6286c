"""Writes the small checkpoints under tests/data in the layouts the loader must accept.

Pure Python (no torch needed): the `.pth` files follow torch.save's zip format (data.pkl pickled
with protocol 2, `torch._utils._rebuild_tensor_v2` + persistent storage ids, one uncompressed entry
per storage), so real PyTorch loads them with `torch.load(..., weights_only=True)`.

Model: a micro ViT (img 8, patch 4, dim 8, depth 2, heads 2, mlp 16, 3 classes), weights from
Python's `random` with seed 7.

Run: python3 tests/data/make_checkpoints.py
"""
import collections
import io
import json
import pickle
import random
import struct
import sys
import types
import zipfile
from pathlib import Path

OUT = Path(__file__).parent
D, DEPTH, MLP, CLASSES, P, IMG, C = 8, 2, 16, 3, 4, 8, 3
TOKENS = (IMG // P) ** 2 + 1


def shapes():
    s = collections.OrderedDict()
    s["cls_token"] = [1, 1, D]
    s["pos_embed"] = [1, TOKENS, D]
    s["patch_embed.proj.weight"] = [D, C, P, P]
    s["patch_embed.proj.bias"] = [D]
    for i in range(DEPTH):
        b = f"blocks.{i}"
        s[f"{b}.norm1.weight"] = [D]
        s[f"{b}.norm1.bias"] = [D]
        s[f"{b}.attn.qkv.weight"] = [3 * D, D]
        s[f"{b}.attn.qkv.bias"] = [3 * D]
        s[f"{b}.attn.proj.weight"] = [D, D]
        s[f"{b}.attn.proj.bias"] = [D]
        s[f"{b}.norm2.weight"] = [D]
        s[f"{b}.norm2.bias"] = [D]
        s[f"{b}.mlp.fc1.weight"] = [MLP, D]
        s[f"{b}.mlp.fc1.bias"] = [MLP]
        s[f"{b}.mlp.fc2.weight"] = [D, MLP]
        s[f"{b}.mlp.fc2.bias"] = [D]
    s["norm.weight"] = [D]
    s["norm.bias"] = [D]
    s["head.weight"] = [CLASSES, D]
    s["head.bias"] = [CLASSES]
    return s


def state_dict():
    rng = random.Random(7)
    sd = collections.OrderedDict()
    for name, shape in shapes().items():
        n = 1
        for d in shape:
            n *= d
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            vals = [1.0 + 0.1 * rng.gauss(0, 1) for _ in range(n)]
        else:
            vals = [0.3 * rng.gauss(0, 1) for _ in range(n)]
        sd[name] = (shape, [struct.unpack("<f", struct.pack("<f", v))[0] for v in vals])
    return sd


# --- a torch-compatible pickle without torch -------------------------------------------------
torch_mod = types.ModuleType("torch")
utils_mod = types.ModuleType("torch._utils")


class FloatStorage:
    pass


FloatStorage.__module__ = "torch"
torch_mod.FloatStorage = FloatStorage


def _rebuild_tensor_v2(*args):
    raise RuntimeError("only for pickling")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
sys.modules["torch"] = torch_mod
sys.modules["torch._utils"] = utils_mod


class Storage:
    def __init__(self, key, values):
        self.key, self.values = key, values


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce_ex__(self, proto):
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        return (
            _rebuild_tensor_v2,
            (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()),
        )


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", len(obj.values))
        return None


def write_pth(path, obj_builder):
    storages = []

    def tensor(shape, values):
        s = Storage(str(len(storages)), values)
        storages.append(s)
        return Tensor(s, shape)

    obj = obj_builder(tensor)
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(obj)
    stem = path.stem
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{stem}/data.pkl", buf.getvalue())
        z.writestr(f"{stem}/byteorder", "little")
        for s in storages:
            z.writestr(f"{stem}/data/{s.key}", struct.pack(f"<{len(s.values)}f", *s.values))
        z.writestr(f"{stem}/version", "3\n")


def write_safetensors(path, sd):
    header, blobs, off = {}, [], 0
    for name, (shape, vals) in sd.items():
        b = struct.pack(f"<{len(vals)}f", *vals)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    sd = state_dict()
    write_safetensors(OUT / "micro_timm.safetensors", sd)
    write_pth(
        OUT / "micro_timm.pth",
        lambda t: collections.OrderedDict((k, t(s, v)) for k, (s, v) in sd.items()),
    )

    def mae(t):
        model = collections.OrderedDict()
        for k, (s, v) in sd.items():
            model[k.replace("norm.", "fc_norm.") if k.startswith("norm.") else k] = t(s, v)
        model["mask_token"] = t([1, 1, D], [0.0] * D)
        model["decoder_embed.weight"] = t([4, D], [0.5] * (4 * D))
        return {"model": model, "epoch": 799}

    write_pth(OUT / "micro_mae.pth", mae)

    def dino(t):
        teacher = collections.OrderedDict()
        for k, (s, v) in sd.items():
            if not k.startswith("head."):
                teacher["backbone." + k] = t(s, v)
        teacher["head.mlp.0.weight"] = t([4, D], [0.25] * (4 * D))
        return {"teacher": teacher}

    write_pth(OUT / "micro_dino_full.pth", dino)
    write_pth(
        OUT / "micro_dino.pth",
        lambda t: collections.OrderedDict(
            (k, t(s, v)) for k, (s, v) in sd.items() if not k.startswith("head.")
        ),
    )


if __name__ == "__main__":
    main()
