"""Writes expected/<file>.npy: pydicom's decoding of each test file, as modality values
(pixel_array * RescaleSlope + RescaleIntercept) in float32; for multi-frame files, frame 1.

Run with pydicom 3 and numpy installed: python3 tests/data/dicom/make_expected.py
"""
from pathlib import Path

import numpy as np
import pydicom

HERE = Path(__file__).parent
(HERE / "expected").mkdir(exist_ok=True)
for name in ["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "SC_rgb_small_odd.dcm", "SC_rgb_rle_2frame.dcm"]:
    ds = pydicom.dcmread(HERE / name)
    a = ds.pixel_array
    if int(getattr(ds, "NumberOfFrames", 1)) > 1:
        a = a[1]
    slope = float(getattr(ds, "RescaleSlope", 1.0))
    inter = float(getattr(ds, "RescaleIntercept", 0.0))
    np.save(HERE / "expected" / (name + ".npy"), (a.astype(np.float64) * slope + inter).astype(np.float32))
