"""A built-in synthetic dataset: landscape-like NIR/RGB pairs generated on the fly (no files).

Each scene has sky (blue gradient, white clouds) above a wavy horizon and, below it, regions of
vegetation, bare soil and water, with smooth-noise texture and shading shared by both bands. The
bands follow real reflectance: vegetation is bright in NIR (the "red edge") and green in RGB,
water is nearly black in NIR, clear sky is darker in NIR than in blue light, clouds are bright in
both, soil sits in between and its colour varies from scene to scene. Because clouds and foliage,
or sky and soil, share NIR levels, RGB is not a function of the NIR value alone: a model has to
use position and texture, as on real data.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from crossspec.color import rgb_to_luminance
from crossspec.data.base import ColorizationDataset, Transform, check_domain
from crossspec.errors import DataError

_SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
DEFAULT_LENGTH = {"train": 512, "val": 64, "test": 64}


@functools.lru_cache(maxsize=32)
def _lerp_matrix(size: int, cells: int) -> np.ndarray:
    """``(size, cells + 1)`` weights that smoothly interpolate ``cells + 1`` knots onto ``size`` pixels."""
    pos = np.linspace(0, cells, size)
    lo = np.minimum(np.floor(pos).astype(int), cells - 1)
    f = pos - lo
    f = f * f * (3 - 2 * f)  # smoothstep: rounder blobs than plain linear interpolation
    w = np.zeros((size, cells + 1), np.float32)
    w[np.arange(size), lo] = 1 - f
    w[np.arange(size), lo + 1] = f
    return w


def _smooth(g: np.random.Generator, size: int, cells: int, n: int = 1) -> np.ndarray:
    """``n`` smooth noise fields ``(n, size, size)``, roughly N(0, 1), with ``cells`` blobs per side."""
    w = _lerp_matrix(size, cells)
    knots = g.standard_normal((n, cells + 1, cells + 1), dtype=np.float32)
    return np.einsum("yi,nij,xj->nyx", w, knots, w, optimize=True)


def make_scene(g: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: ``(nir (1, size, size), rgb (3, size, size))`` float32 in [0, 1].

    NumPy rather than torch: torch's intra-op thread pool made a 64x64 sample cost 40-80 ms
    instead of ~2 ms on a busy 2-core machine, and data generation never needs a gradient.
    """
    s = size
    u = g.uniform
    yy = np.broadcast_to(np.linspace(0, 1, s, dtype=np.float32)[:, None], (s, s))
    xs = np.linspace(0, 1, s, dtype=np.float32)
    low = _smooth(g, s, 3, 3)          # region layout: water, vegetation, shading
    mid = _smooth(g, s, 6, 2)          # clouds, soil rows phase
    fine = _smooth(g, s, max(4, s // 4), 1)  # foliage / soil texture
    ridge = _smooth(g, s, 4, 1)[0, 0]  # one row of noise for the skyline
    horizon = (u(0.2, 0.5) + 0.07 * ridge + 0.05 * np.sin(xs * u(2, 9) + u(0, 6.3)))[None, :]
    sky = yy < horizon
    depth = np.clip(yy - horizon, 0, None) / np.clip(1 - horizon, 1e-3, None)

    # sky: blue overhead fading to pale at the horizon; NIR sky is darker (less scattering)
    t = np.clip(yy / np.clip(horizon, 1e-3, None), 0, 1)
    top = np.array([0.20, 0.40, 0.85], np.float32) * u(0.8, 1.1)
    hor = np.array([0.70, 0.80, 0.90], np.float32)
    sky_rgb = top[:, None, None] * (1 - t) + hor[:, None, None] * t
    sky_nir = 0.12 + 0.18 * t
    cloud = np.clip((mid[0] - u(0.3, 1.5)) * 2.5, 0, 1)
    sky_rgb = sky_rgb * (1 - cloud) + 0.92 * cloud
    sky_nir = sky_nir * (1 - cloud) + 0.85 * cloud

    # ground classes from smooth fields; water is absent in part of the scenes
    water = (low[0] + 0.4 * depth < u(-2.0, -0.1)) & ~sky
    veg = (low[1] > u(-0.8, 0.6)) & ~water & ~sky
    tex = fine[0]
    shade = (1 + 0.12 * low[2]) * u(0.75, 1.1)

    hue = u(-0.08, 0.08)
    veg_rgb = np.array([0.13 + hue, 0.32 + 0.5 * hue, 0.07], np.float32)[:, None, None] * np.clip(0.85 + 0.3 * tex, 0.4, 1.6)
    veg_nir = 0.68 + 0.12 * tex
    soil_base = (np.array([0.50, 0.38, 0.26]) * u(0.7, 1.2) + np.array([0.0, 0.03, 0.06]) * u(-1, 1)).astype(np.float32)
    rows = 0.06 * np.sin(yy * u(40, 90) + 3 * mid[1]) * (g.random() < 0.5)
    soil_rgb = soil_base[:, None, None] * (1 + 0.15 * tex + rows)
    soil_nir = 0.36 + 0.25 * (soil_base[0] - 0.45) + 0.05 * tex + rows
    refl = 0.3 * sky_rgb.mean(axis=(1, 2), keepdims=True)
    water_rgb = np.array([0.06, 0.14, 0.20], np.float32)[:, None, None] + refl + 0.02 * tex
    water_nir = 0.04 + 0.01 * tex

    lit = np.where(water, 1.0, shade)
    ground_rgb = np.where(water, water_rgb, np.where(veg, veg_rgb, soil_rgb)) * lit
    ground_nir = np.where(water, water_nir, np.where(veg, veg_nir, soil_nir)) * lit
    # haze lightens the far ground in both bands (less in NIR, which sees through haze)
    far = (1 - depth) ** 4
    ground_rgb = ground_rgb * (1 - 0.35 * far) + 0.35 * far * hor[:, None, None]
    ground_nir = ground_nir * (1 - 0.15 * far) + 0.15 * far * 0.3
    rgb = np.clip(np.where(sky, sky_rgb, ground_rgb), 0, 1)
    nir = np.where(sky, sky_nir, ground_nir) + 0.01 * g.standard_normal((s, s), dtype=np.float32)
    return np.clip(nir, 0, 1)[None].astype(np.float32), rgb.astype(np.float32)


class Demo(ColorizationDataset):
    """Deterministic synthetic NIR (or gray) -> RGB pairs for the quickstart and tests.

    ``split`` "train" | "val" | "test" use disjoint seeds; ``size`` the side in pixels (>= 16);
    ``length`` the number of samples (default 512 / 64 / 64); ``seed`` shifts every split.
    Samples: ``input`` (1, size, size), ``target`` (3, size, size), float32 in [0, 1]; ``key`` and
    ``name`` "demo_<split>_<nnnnn>"; ``domain`` "nir" or "gray" (input = BT.601 luminance).
    """

    def __init__(self, split: str = "train", size: int = 64, length: int | None = None, domain: str = "nir",
                 seed: int = 0, transforms: Transform | None = None, root: object = None) -> None:
        if split not in _SPLIT_IDS:
            raise DataError(f"split {split!r}: unknown demo split; valid splits are {', '.join(_SPLIT_IDS)}")
        if int(size) < 16:
            raise DataError(f"size: demo images need size >= 16, got {size}")
        if length is not None and int(length) < 1:
            raise DataError(f"length: must be >= 1, got {length}")
        self.root = None
        self.split, self.size, self.seed = split, int(size), int(seed)
        self.length = DEFAULT_LENGTH[split] if length is None else int(length)
        self.domain = check_domain(domain)
        self.transforms = transforms
        self._verify()

    def _verify(self) -> None:
        pass  # generated data: nothing to find on disk

    def __len__(self) -> int:
        return self.length

    @property
    def keys(self) -> list[str]:
        return [self._name(i) for i in range(self.length)]

    def _name(self, i: int) -> str:
        return f"demo_{self.split}_{i:05d}"

    def load(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(f"demo index {i} out of range (length {self.length})")
        # seeding with the tuple (seed, split, index) keeps every split's stream disjoint
        g = np.random.default_rng([self.seed, _SPLIT_IDS[self.split], i])
        nir_np, rgb_np = make_scene(g, self.size)
        nir, rgb = torch.from_numpy(nir_np), torch.from_numpy(rgb_np)
        x = rgb_to_luminance(rgb) if self.domain == "gray" else nir
        name = self._name(i)
        return {"input": x, "target": rgb, "name": name, "key": name, "domain": self.domain}
