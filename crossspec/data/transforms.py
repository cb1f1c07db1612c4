"""Paired augmentations: the same random geometry applied to a sample's input and target.

Each transform takes and returns the sample dict (``input`` (C, H, W), ``target`` (3, H, W),
``name`` ...). Randomness comes from torch's global generator (so DataLoader worker seeding and
``torch.manual_seed`` make runs repeatable) or from an explicit ``generator``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import kornia.geometry.transform as KT
import torch

from crossspec.errors import DataError

# "mask" (1, H, W), 1 = valid pixel (raster pairs), follows the same geometry
_IMAGE_KEYS = ("input", "target", "mask")


def _pair(v: int | Sequence[int], what: str) -> tuple[int, int]:
    h, w = (v, v) if isinstance(v, int) else tuple(v)
    if h < 1 or w < 1:
        raise ValueError(f"{what} must be positive, got {v}")
    return int(h), int(w)


def _hw(sample: dict) -> tuple[int, int]:
    h, w = sample["input"].shape[-2:]
    if "target" in sample and tuple(sample["target"].shape[-2:]) != (h, w):
        raise DataError(f"sample {sample.get('name', '?')}: input {h}x{w} and target "
                        f"{tuple(sample['target'].shape[-2:])} differ in size; paired transforms need registered pairs")
    return int(h), int(w)


def _offset(size: int, crop: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(0, size - crop + 1, (1,), generator=generator))


def _crop_all(sample: dict, top: int, left: int, h: int, w: int) -> dict:
    out = dict(sample)
    for k in _IMAGE_KEYS:
        if k in out:
            out[k] = out[k][..., top:top + h, left:left + w]
    return out


def _check_fits(sample: dict, h: int, w: int) -> tuple[int, int]:
    ih, iw = _hw(sample)
    if ih < h or iw < w:
        raise DataError(f"sample {sample.get('name', '?')}: image is {ih}x{iw}, smaller than the {h}x{w} crop")
    return ih, iw


class RandomCrop:
    """Crop the same random ``size`` window (int or (h, w)) from input and target."""

    def __init__(self, size: int | Sequence[int], generator: torch.Generator | None = None) -> None:
        self.size = _pair(size, "size")
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        h, w = self.size
        ih, iw = _check_fits(sample, h, w)
        return _crop_all(sample, _offset(ih, h, self.generator), _offset(iw, w, self.generator), h, w)


class RandomResizedCrop:
    """Crop a random window and resize it to ``size`` (input and target alike).

    The window is ``crop`` pixels (int or (h, w)) when given: ColorMamba's recipe is
    ``RandomResizedCrop(size=256, crop=200)``. Otherwise a square window whose area is a random
    fraction in ``scale`` of the image's shorter side squared. Resizing is bilinear (kornia, with
    antialiasing when shrinking); results are clamped to [0, 1].
    """

    def __init__(self, size: int | Sequence[int], scale: tuple[float, float] | None = None,
                 crop: int | Sequence[int] | None = None, generator: torch.Generator | None = None) -> None:
        self.size = _pair(size, "size")
        if crop is None and scale is None:
            scale = (0.5, 1.0)
        if scale is not None and not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {scale}")
        self.crop = None if crop is None else _pair(crop, "crop")
        self.scale = scale
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        if self.crop is not None:
            h, w = self.crop
            ih, iw = _check_fits(sample, h, w)
        else:
            ih, iw = _hw(sample)
            lo, hi = self.scale
            frac = lo + (hi - lo) * float(torch.rand(1, generator=self.generator))
            h = w = max(1, int(round(min(ih, iw) * frac ** 0.5)))
        out = _crop_all(sample, _offset(ih, h, self.generator), _offset(iw, w, self.generator), h, w)
        for k in _IMAGE_KEYS:
            if k in out:
                x = out[k]
                if k == "mask":
                    # nearest keeps the mask 0/1: a resized pixel is valid where its nearest source pixel is
                    out[k] = (KT.resize(x[None], self.size, interpolation="nearest")[0] > 0.5).to(x.dtype)
                    continue
                shrink = self.size[0] < h or self.size[1] < w
                y = KT.resize(x[None], self.size, interpolation="bilinear", antialias=shrink)[0]
                out[k] = y.clamp(0, 1)
        return out


class RandomHorizontalFlip:
    """Mirror input and target left-right together with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        if float(torch.rand(1, generator=self.generator)) >= self.p:
            return sample
        out = dict(sample)
        for k in _IMAGE_KEYS:
            if k in out:
                out[k] = KT.hflip(out[k][None])[0]
        return out


class RandomDihedral:
    """One of the 8 flips and quarter turns of the square, the same for input, target and mask.

    For overhead imagery (rasters), which has no "up": north-up scenes look the same rotated. Needs
    square samples (crop first) so that every sample of a batch keeps its size.
    """

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        h, w = _hw(sample)
        if h != w:
            raise DataError(f"sample {sample.get('name', '?')}: quarter turns need a square sample, got {h}x{w} "
                            "(crop before RandomDihedral)")
        k = int(torch.randint(0, 8, (1,), generator=self.generator))
        out = dict(sample)
        for key in _IMAGE_KEYS:
            if key in out:
                x = torch.rot90(out[key], k % 4, dims=(-2, -1))
                out[key] = x.flip(-1) if k >= 4 else x
        return out


class RandomContrast:
    """Scale the *input's* contrast about its mean by a factor drawn uniformly from ``factors``
    (the peers' NIR recipe: 0.5-1.5), clamped to [0, 1]; target and mask are untouched.

    A NIR camera's exposure and gain vary between captures while the colours of the scene do not,
    so the colorizer should not read colour from the input's contrast.
    """

    def __init__(self, factors: Sequence[float] = (0.5, 1.5), generator: torch.Generator | None = None) -> None:
        lo, hi = (float(f) for f in factors)
        if not 0 < lo <= hi:
            raise ValueError(f"factors must satisfy 0 < lo <= hi, got {tuple(factors)}")
        self.factors = (lo, hi)
        self.generator = generator

    def __call__(self, sample: dict) -> dict:
        lo, hi = self.factors
        f = lo + (hi - lo) * float(torch.rand(1, generator=self.generator))
        x = sample["input"]
        out = dict(sample)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        out["input"] = ((x - mean) * f + mean).clamp(0, 1)
        return out


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[dict], dict]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: dict) -> dict:
        for t in self.transforms:
            sample = t(sample)
        return sample
