"""Streaming tiled colorization: one row of tiles in memory at a time, finished rows written out.

Memory is ``O((tile + block) × width)`` however tall the image: input rows for one tile-row are
read, their tiles predicted in batches and accumulated (weighted sums and weights), and rows no
later tile touches are normalised and handed to the writer in whole output blocks.

Pointwise models (``predict.pointwise``: the model declared ``receptive_field = 1``, like
``nir-gain`` and ``nir-gray``) need neither overlap nor blending: the output at a pixel depends on
that pixel alone, so any tiling gives exactly the whole-image result. They run on whole-width row
chunks of about :data:`POINTWISE_CHUNK_PIXELS`, written as they come.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable

import numpy as np

from crossspec.inference.tiling import TileGrid

# read_rows(y0, h) -> (data (h, W) float32 in [0,1], valid (h, W) bool)
ReadRows = Callable[[int, int], "tuple[np.ndarray, np.ndarray]"]
# write_rows(rgb (3, h, W) float32 in [0,1], valid (h, W) bool, y0) -> None
WriteRows = Callable[[np.ndarray, np.ndarray, int], None]
# predict(tiles (N, h, w) float32) -> (N, 3, h, w) float32
Predict = Callable[[np.ndarray], np.ndarray]

# Pixels per model call for pointwise models: large enough that per-call overhead vanishes
# (a call costs ~0.1 ms in Python against ~20 ms of work), small enough to keep memory flat
# (about 30 bytes per pixel in flight: input, validity, RGB, the model's temporaries, encoded RGB).
POINTWISE_CHUNK_PIXELS = 1 << 20


def default_batch_size(predict: Predict) -> int:
    """Tiles per model call when the caller does not say: ``predict.batch_size`` (set by
    :func:`crossspec.inference.predict.make_predictor` for the model's device), else 1."""
    return int(getattr(predict, "batch_size", 1) or 1)


def is_pointwise(predict: Predict) -> bool:
    """True when ``predict`` runs a model whose output at a pixel depends on that pixel only."""
    return bool(getattr(predict, "pointwise", False))


def pointwise_rows(width: int, block_height: int = 1) -> int:
    """Rows per chunk for a pointwise model: whole output blocks, about :data:`POINTWISE_CHUNK_PIXELS`."""
    block_height = max(1, int(block_height))
    blocks = max(1, POINTWISE_CHUNK_PIXELS // max(1, width) // block_height)
    return blocks * block_height


def count_tiles(height: int, width: int, tile: int, overlap: int, margin: int | None = None, *,
                pointwise: bool = False, block_height: int = 1, image_width: int | None = None,
                x_offset: int = 0) -> int:
    """How many units :func:`stream_colorize` reports through ``on_tiles`` (tiles, or row chunks
    for a pointwise model), for the same arguments."""
    if pointwise:
        return -(-height // pointwise_rows(width, block_height))
    grid = TileGrid(height, width if image_width is None else image_width, tile, overlap, margin)
    return len(grid.ys) * len(grid.row(0, x_offset, x_offset + width))


def _load_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_MALLOC_TRIM = _load_malloc_trim()


def release_freed_memory() -> None:
    """Hand freed heap memory back to the OS (glibc only).

    Each tile-row allocates and frees several multi-megabyte arrays; glibc then raises its mmap
    threshold and serves them from a heap that fragments, so resident memory creeps up with the
    number of tile-rows although live memory does not. Trimming once per tile-row keeps it flat.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def stream_colorize(
    height: int,
    width: int,
    read_rows: ReadRows,
    write_rows: WriteRows,
    predict: Predict,
    *,
    tile: int = 512,
    overlap: int = 64,
    margin: int | None = None,
    batch_size: int | None = None,
    block_height: int = 1,
    on_tiles: Callable[[int], None] | None = None,
    pointwise: bool | None = None,
    image_width: int | None = None,
    x_offset: int = 0,
) -> int:
    """Colorize an ``height × width`` single-band image tile-row by tile-row.

    Written rows start at multiples of ``block_height`` (except the last chunk ends at ``height``),
    so a tiled GeoTIFF writer always receives whole block rows. Tiles without any valid pixel are
    not predicted (their pixels are nodata anyway). ``on_tiles(n)`` is called as tiles finish.
    ``batch_size`` tiles go to the model at a time (default: :func:`default_batch_size`).
    ``pointwise`` (default: :func:`is_pointwise` of ``predict``) skips tiling and blending (module
    docstring); ``tile``/``overlap``/``margin`` are then only validated.

    A column strip of a wider image: ``width`` columns starting at column ``x_offset`` of an image
    ``image_width`` wide, where ``x_offset:x_offset + width`` is a :meth:`TileGrid.span`. The tiles
    and weights are the whole image's, so the strip's written columns come out as in one pass.
    ``read_rows`` and ``write_rows`` then see the strip's columns only.
    Returns the largest number of rows held in the accumulation buffer (for memory checks).
    """
    if batch_size is None:
        batch_size = default_batch_size(predict)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    grid = TileGrid(height, width if image_width is None else image_width, tile, overlap, margin)
    if is_pointwise(predict) if pointwise is None else pointwise:
        return _stream_pointwise(height, width, read_rows, write_rows, predict, block_height, on_tiles)
    inside = grid.row(0, x_offset, x_offset + width)
    if not inside or inside[0].x0 != x_offset or inside[-1].x0 + grid.tw != x_offset + width:
        raise ValueError(f"columns {x_offset}:{x_offset + width} are not a span of the tile grid")
    block_height = max(1, int(block_height))
    cap = grid.th + block_height
    acc = np.zeros((3, cap, width), np.float32)
    wsum = np.zeros((cap, width), np.float32)
    valid = np.zeros((cap, width), bool)
    buf_y0 = 0  # image row of buffer row 0
    max_rows = 0
    for i, y in enumerate(grid.ys):
        data, ok = read_rows(y, grid.th)
        r0 = y - buf_y0
        valid[r0:r0 + grid.th] = ok
        max_rows = max(max_rows, r0 + grid.th)
        row = grid.row(i, x_offset, x_offset + width)
        # (tile, its first column in the strip's buffers)
        tiles = [(t, t.x0 - x_offset) for t in row if ok[:, t.x0 - x_offset:t.x0 - x_offset + t.w].any()]
        for b in range(0, len(tiles), batch_size):
            chunk = tiles[b:b + batch_size]
            out = predict(np.stack([data[:, x:x + t.w] for t, x in chunk]))
            for (t, x), rgb in zip(chunk, out):
                w = grid.weight(t)
                rgb *= w  # in place: `out` is ours, and a product array per tile is ~3 MB of churn
                acc[:, r0:r0 + t.h, x:x + t.w] += rgb
                wsum[r0:r0 + t.h, x:x + t.w] += w
            if on_tiles is not None:
                on_tiles(len(chunk))
        if on_tiles is not None and len(tiles) < len(row):
            on_tiles(len(row) - len(tiles))
        done = grid.row_done_until(i)
        flush_to = height if done >= height else (done // block_height) * block_height
        n = flush_to - buf_y0
        if n <= 0:
            continue
        den = wsum[:n]
        rgb = np.divide(acc[:, :n], den, out=np.zeros_like(acc[:, :n]), where=den > 0)
        write_rows(rgb, valid[:n].copy(), buf_y0)
        # Shift the unfinished rows to the top of the buffer and clear the rest.
        keep = cap - n
        acc[:, :keep] = acc[:, n:].copy()
        wsum[:keep] = wsum[n:].copy()
        valid[:keep] = valid[n:].copy()
        acc[:, keep:] = 0
        wsum[keep:] = 0
        valid[keep:] = False
        buf_y0 = flush_to
        release_freed_memory()
    return max_rows


def _stream_pointwise(height: int, width: int, read_rows: ReadRows, write_rows: WriteRows, predict: Predict,
                      block_height: int, on_tiles: Callable[[int], None] | None) -> int:
    """Whole-width row chunks straight from reader to model to writer: no overlap, no weights."""
    rows = pointwise_rows(width, block_height)
    for y in range(0, height, rows):
        n = min(rows, height - y)
        data, ok = read_rows(y, n)
        if ok.all():
            rgb = predict(data[None])[0]
        elif ok.any():
            rgb = predict(data[None])[0]
            # Nodata pixels hold 0, as where the tiled path skips an all-nodata tile, so what lies
            # under a mask does not depend on the chunking.
            np.multiply(rgb, ok, out=rgb)
        else:
            rgb = np.zeros((3, n, width), np.float32)
        write_rows(rgb, ok, y)
        if on_tiles is not None:
            on_tiles(1)
        del data, ok, rgb
        release_freed_memory()
    return min(rows, height)
