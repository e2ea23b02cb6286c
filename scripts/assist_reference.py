#!/usr/bin/env python3
"""Times the reference call of one case of fixtures/assist (scipy / scikit-image, as its README
names them) on the case's inputs; prints milliseconds. Used by `vitscope bench --suite assist
--scipy`. usage: assist_reference.py FIXTURE_DIR CASE_NAME TMP_DIR"""
import gzip, json, os, sys, time
import numpy as np
from PIL import Image
from scipy import ndimage
import skimage

root, name, tmp = sys.argv[1:4]
case = next(c for c in json.load(open(os.path.join(root, "cases.json")))["cases"] if c["name"] == name)
img = np.asarray(Image.open(os.path.join(root, case["image"])).convert("L") if case["image"].endswith(".png")
                 and Image.open(os.path.join(root, case["image"])).mode in ("RGB", "RGBA")
                 else Image.open(os.path.join(root, case["image"]))).astype(np.float64)
mask = np.asarray(Image.open(os.path.join(root, case["mask"]))) if case["mask"] else np.zeros(img.shape, np.uint8)
C = case["class"] or 1
opts = case["options"]
def opt(k):
    for i, o in enumerate(opts):
        if o == k: return opts[i + 1]
        if o.startswith(k + "="): return o.split("=", 1)[1]
sp = tuple(float(x) for x in (case["spacing"] or opt("--spacing") or "1,1").split(","))
B = mask == C
op = case["op"]
def run():
    if op == "threshold":
        lo, hi = map(float, opt("--range").split(",")); return (img >= lo) & (img <= hi)
    if op == "paint":
        x, y = map(float, opt("--at").split(",")); r = float(opt("--radius"))
        lo, hi = map(float, opt("--range").split(","))
        ii, jj = np.ogrid[:img.shape[0], :img.shape[1]]
        return B | (((jj - x) ** 2 + (ii - y) ** 2 <= r * r) & (img >= lo) & (img <= hi))
    if op == "islands":
        lab, n = ndimage.label(B, np.ones((3, 3)) if opt("--connectivity") == "8" else None)
        sizes = np.bincount(lab.ravel()); keep = sizes >= int(opt("--keep").split(":")[1]); keep[0] = False
        return keep[lab]
    if op == "margin":
        d = float(opt("--mm")); return B | (ndimage.distance_transform_edt(~B, sampling=sp) <= d)
    if op == "smooth":
        k = opt("--kind")
        if k == "median":
            s = float(opt("--mm")); kr = 2 * int(s / (2 * sp[0])) + 1; kc = 2 * int(s / (2 * sp[1])) + 1
            return ndimage.median_filter(B.astype(np.uint8), size=(kr, kc), mode="reflect") > 0
        if k == "gaussian":
            s = float(opt("--mm")); return ndimage.gaussian_filter(B.astype(np.float64), sigma=(s / sp[0], s / sp[1]), mode="reflect") >= 0.5
        fp = skimage.morphology.disk(int(opt("--px")))
        f = skimage.morphology.opening if k == "open" else skimage.morphology.closing
        return f(B.astype(np.uint8), fp) > 0
    if op == "fill-holes":
        return ndimage.binary_fill_holes(B)
    if op == "grow":
        seeds = np.asarray(Image.open(os.path.join(root, case["seeds"])))
        return skimage.segmentation.watershed(skimage.filters.sobel(img), seeds, connectivity=1)
    if op == "scissors":
        pts = [tuple(map(float, p.split(","))) for p in opt("--polygon").split(";")]
        rr, cc = skimage.draw.polygon([p[1] for p in pts], [p[0] for p in pts], img.shape)
        P = np.zeros(img.shape, bool); P[rr, cc] = True; return B & ~P
    if op == "from-map":
        m = case["map"]; f = gzip.open(os.path.join(root, m)) if m.endswith(".gz") else open(os.path.join(root, m), "rb")
        a = np.load(f); k = min(int(a.size * (float(opt("--top")) / 100)), a.size - 1)
        t = np.sort(a.ravel())[::-1][k]; return a >= t
t = time.perf_counter(); run(); print((time.perf_counter() - t) * 1e3)
