"""Colour hints as a sparse map: the extra input of hint-guided colorizers (Zhang et al. 2017).

A hint fixes the colour of a square patch of pixels. The map a model sees has three channels per
pixel, in this order:

* ``a / AB_SCALE`` and ``b / AB_SCALE``: the hint's CIE Lab chrominance, scaled to about [-1, 1];
* ``mask``: 1 where a hint lies, 0 elsewhere (the ab channels are 0 there too).

:class:`HintMap` keeps the hints as a short list of patches and draws the map of any window on
request, so a raster of any size can be colorized tile by tile with hints whose map never exists
in full (the tiles and strips of :mod:`crossspec.inference` cut it with the input's windows).
Where patches overlap, the later one wins, as a user's later click would.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

# Lab a/b are divided by this before they reach a network (the ab range of sRGB is within +-110,
# the normalisation Zhang et al. use).
AB_SCALE = 110.0
HINT_CHANNELS = 3  # a, b, mask


@dataclass(frozen=True)
class HintPatch:
    """A hint: the square of ``size`` pixels whose top-left pixel is ``(row, col)`` (it may stick
    out of the image; only the inside is drawn) has chrominance ``(a, b)`` in Lab units."""

    row: int
    col: int
    size: int
    a: float
    b: float

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"hint patch size must be at least 1 pixel, got {self.size}")


def centred_patch(row: int, col: int, size: int, a: float, b: float) -> HintPatch:
    """The patch of side ``size`` centred on pixel ``(row, col)`` (for even sides, the centre pixel
    is the lower-right of the middle four)."""
    return HintPatch(int(row) - size // 2, int(col) - size // 2, int(size), float(a), float(b))


class HintMap:
    """The hints of one ``height x width`` image; :meth:`window` draws any part of their map."""

    def __init__(self, height: int, width: int, patches: Iterable[HintPatch] = ()) -> None:
        self.height, self.width = int(height), int(width)
        self.patches: tuple[HintPatch, ...] = tuple(patches)

    def __len__(self) -> int:
        return len(self.patches)

    def __repr__(self) -> str:
        return f"HintMap({self.height}x{self.width}, {len(self.patches)} hints)"

    def window(self, row: int, col: int, height: int, width: int) -> np.ndarray:
        """Map of rows ``row:row+height``, columns ``col:col+width``: ``(height, width, 3)`` float32
        (``a / AB_SCALE``, ``b / AB_SCALE``, mask); zero outside the image."""
        out = np.zeros((height, width, HINT_CHANNELS), np.float32)
        for p in self.patches:
            r0, r1 = max(p.row, row), min(p.row + p.size, row + height, self.height)
            c0, c1 = max(p.col, col), min(p.col + p.size, col + width, self.width)
            if r0 >= r1 or c0 >= c1:
                continue
            out[r0 - row:r1 - row, c0 - col:c1 - col] = (p.a / AB_SCALE, p.b / AB_SCALE, 1.0)
        return out

    def full(self) -> np.ndarray:
        """The whole map, ``(height, width, 3)`` float32 (small images only)."""
        return self.window(0, 0, self.height, self.width)


def rgb_to_ab(colours: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """sRGB colours ``(N, 3)`` in [0, 1] -> their Lab ``(a, b)`` ``(N, 2)`` float64 (kornia's Lab,
    as everywhere in crossspec)."""
    import torch

    from crossspec.color import rgb_to_lab

    rgb = torch.as_tensor(np.asarray(colours, np.float32)).reshape(-1, 3)
    if rgb.numel() == 0:
        return np.zeros((0, 2))
    lab = rgb_to_lab(rgb.T.reshape(3, -1, 1))  # (3, N, 1)
    return lab[1:, :, 0].T.double().numpy()
