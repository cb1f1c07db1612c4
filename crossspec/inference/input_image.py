"""Single-band input for colorization: arrays and image files as ``(H, W)`` float32 in [0, 1] plus validity."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from crossspec.color import LUMA_BT601
from crossspec.errors import file_error

log = logging.getLogger("crossspec")


def to_unit_single(arr: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """An input array -> ``(H, W)`` float32 in [0, 1] (0 where invalid) and validity ``(H, W)`` bool.

    Accepts ``(H, W)``, ``(H, W, 1)`` and gray-stored-as-RGB ``(H, W, 3)``; refuses alpha channels.
    uint8/uint16 are divided by their dtype's maximum; floats must already lie in [0, 1] (NaN = nodata).
    """
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        raise file_error(name, f"has {arr.shape[2]} channels (with alpha); expected a single-band NIR/gray image")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3))):
        raise file_error(name, f"expected a single-band image (H, W), got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise file_error(name, f"is {arr.shape[1]}x{arr.shape[0]} pixels; at least 2x2 is needed")
    if arr.dtype == np.uint8 or arr.dtype == np.uint16:
        data = arr.astype(np.float32)
        data /= np.float32(np.iinfo(arr.dtype).max)
    elif arr.dtype.kind == "f":
        data = arr.astype(np.float32)
        finite = np.isfinite(data)
        if not finite.any():
            raise file_error(name, "has no valid pixels (all NaN)")
        lo, hi = float(data[finite].min()), float(data[finite].max())
        if lo < 0 or hi > 1:
            raise file_error(name, f"float values span [{lo:g}, {hi:g}]; scale them to [0, 1] first "
                                   "(for a file: pass --scale, e.g. 10000, 'minmax' or 'percentile:2,98')")
    else:
        raise file_error(name, f"unsupported dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1]")
    if data.ndim == 3 and data.shape[2] == 3:
        # NIR and gray captures are often saved as three equal channels; colour input is reduced
        # to BT.601 luminance, which is what the gray domain is trained on.
        if not (np.array_equal(data[..., 0], data[..., 1]) and np.array_equal(data[..., 1], data[..., 2])):
            log.warning("%s: has 3 different channels; using their BT.601 luminance as input", name)
        wr, wg, wb = LUMA_BT601
        data = wr * data[..., 0] + wg * data[..., 1] + wb * data[..., 2]
    elif data.ndim == 3:
        data = data[..., 0]
    if arr.dtype.kind == "u":  # integer samples are all valid: skip the NaN pass and its copy
        return np.ascontiguousarray(data, dtype=np.float32), np.ones(data.shape, bool)
    valid = np.isfinite(data)
    return np.where(valid, data, 0).astype(np.float32), valid


def read_input_image(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, int]:
    """An image file as ``(H, W)`` float32 [0, 1], validity ``(H, W)`` bool and its bit depth (8 or 16)."""
    from crossspec.io.image import read_image

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise file_error(path, "is empty (0 bytes)")
    arr = read_image(path)
    bits = 16 if arr.dtype == np.uint16 else 8
    data, valid = to_unit_single(arr, str(path))
    return data, valid, bits
