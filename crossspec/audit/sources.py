"""What an audit compares: a SOURCE string names a set of images, each an RGB file and maybe its NIR.

SOURCE forms:

- ``vcip2020:ROOT:SPLIT`` -- a VCIP 2020 split (``train``, ``test-28``, ``test-clean-20``, ...), labels
  are the pair keys (``country_0001``, ``testing_0005``);
- ``DIR`` (or ``folder:DIR``) -- every image under DIR, recursively. Files whose stem ends in ``_nir`` /
  ``_nir_reg`` are the NIR partners of the RGB file with the same key (``0002_nir.jpg`` with
  ``0002_rgb.jpg``); every other image is an RGB item, labelled by its path relative to DIR without
  suffix and tag.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossspec.color import LUMA_BT601
from crossspec.data.base import image_files
from crossspec.data.folders import match_key
from crossspec.errors import DataError, file_error
from crossspec.io.image import read_image


@dataclass(frozen=True)
class Item:
    """One image of a source: ``label`` names it in reports; ``nir`` is None when there is no partner."""

    label: str
    rgb: Path
    nir: Path | None = None


@dataclass(frozen=True)
class Source:
    spec: str
    items: list[Item]


def parse_source(spec: str) -> Source:
    """Resolve a SOURCE string (see the module docstring) into its items; ``DataError`` if it is empty
    or malformed."""
    if spec.startswith("vcip2020:"):
        root, sep, split = spec[len("vcip2020:"):].rpartition(":")
        if not sep or not root or not split:
            raise DataError(f"{spec}: a VCIP source is vcip2020:ROOT:SPLIT (e.g. vcip2020:data/vcip2020:train)")
        return Source(spec, _vcip_items(root, split))
    folder = Path(spec[len("folder:"):] if spec.startswith("folder:") else spec)
    return Source(spec, _folder_items(folder))


def _vcip_items(root: str, split: str) -> list[Item]:
    from crossspec.data.vcip2020 import VCIP2020

    ds = VCIP2020(root, split=split)  # checks the split name and that every file is there
    return [Item(key, ds.root / rgb, ds.root / nir) for key, (nir, rgb) in zip(ds.keys, ds.files)]


def _folder_items(folder: Path) -> list[Item]:
    if not folder.is_dir():
        raise DataError(f"{folder}: image folder not found (a SOURCE is a folder or vcip2020:ROOT:SPLIT)")
    rgb: dict[str, Path] = {}
    nir: dict[str, Path] = {}
    for f in image_files(folder, recursive=True):
        rel = f.relative_to(folder).with_suffix("")
        key = (rel.parent / match_key(rel.name)).as_posix()
        is_nir = rel.name.lower().endswith(("_nir", "_nir_reg"))
        table = nir if is_nir else rgb
        if key in table:
            raise DataError(f"{folder}: {table[key].name} and {f.name} both give item {key!r}; keep one")
        table[key] = f
    if not rgb:
        raise DataError(f"{folder}: no RGB images found (files named *_nir.* are only NIR partners)")
    return [Item(k, rgb[k], nir.get(k)) for k in sorted(rgb)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_rgb(path: Path) -> np.ndarray:
    """``(H, W, 3)`` float32 in [0, 1]; alpha is dropped, anything but 3 colour channels refused."""
    arr = read_image(path)
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.shape[2] != 3:
        raise file_error(path, f"expected an RGB image, found {arr.shape[2]} channel(s)")
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(arr.dtype.type, 1.0)
    return arr.astype(np.float32) / np.float32(scale)


def load_gray(path: Path) -> np.ndarray:
    """``(H, W)`` float32 in [0, 1]: a single-channel image, or the BT.601 luminance of an RGB one."""
    arr = read_image(path)
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(arr.dtype.type, 1.0)
    arr = arr.astype(np.float32) / np.float32(scale)
    if arr.shape[2] >= 3:
        return luminance(arr[..., :3])
    return arr[..., 0]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of ``(H, W, 3)``, as ``crossspec.color.rgb_to_luminance`` computes it."""
    return rgb @ np.asarray(LUMA_BT601, np.float32)
