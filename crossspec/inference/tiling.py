"""Tile grids and blending weights for colorizing images larger than one model pass.

Tiles of side ``tile`` step by ``tile - overlap``; the last tile on each axis is pulled back to end
at the image edge, so every tile has the same size (an image smaller than a tile is one tile of
the image's own size). Each tile's output is weighted by a separable window and the weighted sums
are divided by the summed weights.

The 1-D window of a tile, by distance ``d`` (in pixels) from a tile edge that lies *inside* the
image (edges on the image border get no taper):

* ``d < margin``: 0 — these pixels saw zero padding instead of their real neighbours, so they are
  not trusted;
* ``margin <= d < overlap - margin``: a Hann (sin²) ramp from 0 to 1;
* beyond: 1.

Two neighbours overlapping by exactly ``overlap`` pixels get complementary weights (sin² + cos² = 1)
and any overlap at least that large leaves every pixel with a positive total weight, so the blend is
never undefined. With ``margin`` at least the model's receptive-field radius, a tiled result equals
the whole-image result wherever the whole image's result does not depend on zero padding at tile
edges, i.e. everywhere for a model whose receptive field fits in the margin.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crossspec.errors import ConfigError


def check_tiling(tile: int, overlap: int, margin: int | None = None) -> int:
    """Validate ``tile``/``overlap``/``margin``; returns the margin (default ``overlap // 4``)."""
    if tile < 8:
        raise ConfigError(f"--tile must be at least 8 pixels, got {tile}")
    if not 0 <= overlap <= tile // 2:
        raise ConfigError(f"--overlap must lie in [0, tile/2] = [0, {tile // 2}], got {overlap}")
    if margin is None:
        margin = overlap // 4
    if margin < 0 or (overlap > 0 and 2 * margin >= overlap) or (overlap == 0 and margin != 0):
        raise ConfigError(f"tile margin must satisfy 0 <= 2*margin < overlap ({overlap}), got {margin}")
    return margin


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the tiles covering ``[0, length)`` on one axis.

    Every tile has length ``min(tile, length)``; consecutive starts differ by at most ``tile - overlap``.
    """
    if length <= tile:
        return [0]
    stride = tile - overlap
    n = math.ceil((length - tile) / stride) + 1
    starts = [i * stride for i in range(n - 1)] + [length - tile]
    return sorted(set(starts))


def ramp(length: int, overlap: int, margin: int, taper_start: bool, taper_end: bool) -> np.ndarray:
    """1-D blending window ``(length,)`` float64 in [0, 1] (see the module docstring)."""
    w = np.ones(length, dtype=np.float64)
    width = overlap - 2 * margin
    if overlap <= 0 or width <= 0:
        return w
    d = np.arange(length, dtype=np.float64)
    # Half-pixel offset: the ramp is sampled at pixel centres, so it never reaches exactly 0 or 1
    # inside the ramp and the complementary neighbour's samples add to exactly 1.
    up = np.clip((d - margin + 0.5) / width, 0.0, 1.0)
    up = np.where(d < margin, 0.0, np.sin(0.5 * np.pi * up) ** 2)
    if taper_start:
        w *= up
    if taper_end:
        w *= up[::-1]
    return w


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``y0:y0+h``, columns ``x0:x0+w``, in image pixel coordinates."""

    y0: int
    x0: int
    h: int
    w: int


class TileGrid:
    """The tiles covering an ``height × width`` image, as rows of tiles, with their weights."""

    def __init__(self, height: int, width: int, tile: int = 512, overlap: int = 64,
                 margin: int | None = None) -> None:
        self.margin = check_tiling(tile, overlap, margin)
        self.height, self.width = height, width
        self.tile, self.overlap = tile, overlap
        self.th, self.tw = min(tile, height), min(tile, width)
        self.ys = tile_starts(height, tile, overlap)
        self.xs = tile_starts(width, tile, overlap)
        # At most 9 distinct windows (which of the four edges taper): computed once, not per tile.
        self._weights: dict[tuple[int, int, bool, bool, bool, bool], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def row(self, i: int, x_from: int = 0, x_to: int | None = None) -> list[Tile]:
        """The tiles of tile-row ``i`` (left to right); with ``x_from``/``x_to``, only those lying
        wholly inside columns ``x_from:x_to`` (a column strip, see :meth:`span`)."""
        x_to = self.width if x_to is None else x_to
        return [Tile(self.ys[i], x, self.th, self.tw) for x in self.xs if x >= x_from and x + self.tw <= x_to]

    def span(self, c0: int, c1: int) -> tuple[int, int]:
        """Columns ``a:b`` covered by the tiles that touch columns ``c0:c1``.

        Running just the tiles inside ``a:b`` gives columns ``c0:c1`` exactly the whole image's
        result: every tile that contributes to them is run, with the whole image's weights.
        """
        touching = [x for x in self.xs if x < c1 and x + self.tw > c0]
        if not touching:
            raise ValueError(f"columns {c0}:{c1} lie outside the image (width {self.width})")
        return touching[0], touching[-1] + self.tw

    def weight(self, t: Tile) -> np.ndarray:
        """Blending window ``(h, w)`` float32 for tile ``t``; tapers only on edges inside the image.

        The array is shared between tiles with the same tapers: treat it as read-only."""
        key = (t.h, t.w, t.y0 > 0, t.y0 + t.h < self.height, t.x0 > 0, t.x0 + t.w < self.width)
        w = self._weights.get(key)
        if w is None:
            wy = ramp(t.h, self.overlap, self.margin, key[2], key[3])
            wx = ramp(t.w, self.overlap, self.margin, key[4], key[5])
            w = self._weights[key] = np.outer(wy, wx).astype(np.float32)
            w.flags.writeable = False
        return w

    def row_done_until(self, i: int) -> int:
        """Image rows ``< row_done_until(i)`` receive no contribution from tile-rows after ``i``."""
        return self.ys[i + 1] if i + 1 < len(self.ys) else self.height
