"""Colorize arrays, image files and georeferenced rasters: the engines behind ``crossspec colorize``
and :func:`crossspec.colorize` (:mod:`crossspec.inference.colorizer`).

>>> import crossspec
>>> rgb = crossspec.colorize("scene.tif", model="nir-gain", band=4)   # (H, W, 3) float32, NaN = nodata

Arrays and returned images are ``(H, W, 3)`` float32 in [0, 1]. Pixels that are nodata in the
input (the raster's nodata value or mask, ``nodata=``, or NaN in a float array) are NaN in the
returned array, so they cannot be mistaken for black; files written to disk carry nodata as the
raster's mask (integer outputs) or NaN (float32 outputs).
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from crossspec.errors import DataError
from crossspec.inference.background import BackgroundCalls
from crossspec.inference.hints import check_hinted_predictor, hint_map_for, raster_transform, with_hint_rows
from crossspec.inference.input_image import read_input_image
from crossspec.inference.stream import count_tiles, is_pointwise, stream_colorize
from crossspec.io.atomic import TMP_MARKER, atomic_path
from crossspec.io.hint_file import HintFile
from crossspec.inference.source import input_kind, open_source, raster_options_given
from crossspec.io.raster import RasterWriter, Scaling, to_cog
from crossspec.ops.hint_map import HintMap

log = logging.getLogger("crossspec")

# Rasters wider than this are colorized in column strips of about this width (whole output blocks),
# or of 4 tiles when that is wider: a tile straddling two strips is run for each, so strips of one
# or two tiles would run many tiles twice. The buffers of one strip hold (tile + block) rows, so
# memory grows with the tile, not with the raster.
STRIP_WIDTH = 1024
# Pointwise models hold no tile-row: one strip of this many columns, in row chunks.
POINTWISE_STRIP_WIDTH = 4096

def colorize_array(data: np.ndarray, valid: np.ndarray, predict: Callable, *, tile: int = 512,
                   overlap: int = 64, margin: int | None = None, batch_size: int | None = None,
                   on_tiles: Callable[[int], None] | None = None, hints: HintMap | None = None) -> np.ndarray:
    """``data`` ``(H, W)`` float32 in [0, 1] (or ``(H, W, C)`` for multi-band input), ``valid`` ``(H, W)``
    bool -> ``(H, W, 3)`` float32, NaN where invalid. ``hints``: the image's hint map, for a
    predictor made with ``hinted=True`` (:mod:`crossspec.inference.hints`)."""
    h, w = data.shape[:2]
    out = np.empty((h, w, 3), np.float32)
    check_hinted_predictor(predict, hints)

    def write(rgb: np.ndarray, ok: np.ndarray, y0: int) -> None:
        block = np.moveaxis(rgb, 0, -1)
        out[y0:y0 + block.shape[0]] = np.where(ok[..., None], block, np.nan)

    read = with_hint_rows(lambda y, n: (data[y:y + n], valid[y:y + n]), hints)
    stream_colorize(h, w, read, write, predict, tile=tile,
                    overlap=overlap, margin=margin, batch_size=batch_size, on_tiles=on_tiles)
    return out


def colorize_file(src_path: str | os.PathLike, dst_path: str | os.PathLike, predict: Callable, *,
                  band: int | None = None, scaling: Scaling | None = None, nodata: float | None = None,
                  kind: str | None = None, record: dict | None = None, **kw) -> Path:
    """Colorize one input file into ``dst_path``: a raster into a GeoTIFF, an image into an image,
    by the rule of :func:`crossspec.inference.source.input_kind` (or ``kind``). ``record``: the
    provenance record (:mod:`crossspec.inference.output_provenance`) written with the output. Other
    keywords go to :func:`colorize_raster_file` / :func:`colorize_image_file` (``hints``: a parsed
    hint file or map, placed on the input by its size and, for rasters, its geotransform)."""
    kind = kind or input_kind(src_path, raster_options_given(band, scaling, nodata))
    if kind == "raster":
        return colorize_raster_file(src_path, dst_path, predict, band=band, scaling=scaling, nodata=nodata,
                                    record=record, **kw)
    for name in ("dtype", "cog", "allow_clipping"):
        kw.pop(name, None)
    return colorize_image_file(src_path, dst_path, predict, record=record, **kw)


def colorize_raster_file(src_path: str | os.PathLike, dst_path: str | os.PathLike, predict: Callable, *,
                         band: int | None = None, scaling: Scaling | None = None, nodata: float | None = None,
                         dtype: str = "uint8", cog: bool = False, overwrite: bool = False, tile: int = 512,
                         overlap: int = 64, margin: int | None = None, batch_size: int | None = None,
                         progress: Callable[[int], None] | None = None,
                         on_start: Callable[[int], None] | None = None,
                         tags: dict | None = None, record: dict | None = None,
                         allow_clipping: bool = False, hints: HintFile | HintMap | None = None) -> Path:
    """Stream-colorize one band of a raster into a 3-band RGB GeoTIFF at ``dst_path`` (atomically).

    The output keeps the source's CRS, transform, size and tags; nodata stays nodata. ``on_start``
    receives the number of tiles before work begins (for progress bars). ``record`` (completed
    with the band, scaling and nodata used) is stored in the output's tags. ``hints`` (pixel or
    map coordinates, placed with the raster's geotransform) need a predictor made with ``hinted=True``.
    """
    import rasterio
    from rasterio.windows import Window

    from crossspec.inference.output_provenance import tags_for

    scaling = scaling or Scaling()
    with open_source(src_path, band=band, scaling=scaling, nodata=nodata, kind="raster",
                     allow_clipping=allow_clipping) as source:
        src, ds = source.band, source.band.ds
        hint_map = hint_map_for(hints, ds.height, ds.width, raster_transform(ds))
        check_hinted_predictor(predict, hint_map)
        pointwise = is_pointwise(predict)
        block = _block_width(ds)  # output blocks are square
        if pointwise:
            strips = column_strips(ds.width, block, POINTWISE_STRIP_WIDTH)
        else:
            strips = column_strips(ds.width, block, max(STRIP_WIDTH, 4 * tile), tile, overlap)
        if on_start is not None:
            on_start(sum(count_tiles(ds.height, b - a, tile, overlap, margin, pointwise=pointwise, block_height=block,
                                     image_width=ds.width, x_offset=a) for a, b, _, _ in strips))
        info = {"crossspec_source_band": str(src.band), "crossspec_scaling": scaling.describe(), **(tags or {})}
        if record is not None:
            info.update(tags_for({**record, **source.fields}))
        with atomic_path(dst_path, overwrite) as tmp, contextlib.ExitStack() as stack:
            target = tmp
            if cog:
                # COG needs the finished image (it builds overviews), so write a plain GeoTIFF first.
                fd, plain = tempfile.mkstemp(prefix=f".{Path(dst_path).stem}.", suffix=f"{TMP_MARKER}.tif",
                                             dir=Path(dst_path).parent)
                os.close(fd)
                target = Path(plain)
                stack.callback(lambda: target.unlink(missing_ok=True))
            # A small GDAL block cache: rows are written once, in whole blocks, so caching buys nothing
            # and a large cache would make memory grow with the raster.
            # Rows are written (encoded, compressed) on a worker thread while the next rows are
            # read and colorized; each write gets arrays nobody touches afterwards.
            with rasterio.Env(GDAL_CACHEMAX=32):
                with RasterWriter(target, ds, dtype, masked=src.may_have_invalid, tags=info) as writer, \
                        BackgroundCalls() as background:
                    for a, b, c0, c1 in strips:
                        stream_colorize(
                            ds.height, b - a,
                            with_hint_rows(lambda y, n, a=a, b=b: src.read(Window(a, y, b - a, n)), hint_map, a),
                            lambda rgb, ok, y0, a=a, c0=c0, c1=c1: background.submit(
                                writer.write, rgb[:, :, c0 - a:c1 - a], ok[:, c0 - a:c1 - a], y0, col_off=c0),
                            predict, tile=tile, overlap=overlap, margin=margin, batch_size=batch_size,
                            block_height=writer.block_height, on_tiles=progress, pointwise=pointwise,
                            image_width=ds.width, x_offset=a)
            if cog:
                to_cog(target, tmp)
    return Path(dst_path)


def _block_width(ds) -> int:
    from crossspec.io.raster import output_profile

    return output_profile(ds)["blockxsize"]


def column_strips(width: int, block: int, strip: int = STRIP_WIDTH, tile: int | None = None, overlap: int = 0
                  ) -> list[tuple[int, int, int, int]]:
    """Split ``width`` columns into strips processed one after another, so memory does not grow
    with the raster's width either.

    Returns ``(a, b, c0, c1)``: columns ``a:b`` are read and colorized, columns ``c0:c1`` (whole
    output blocks, about ``strip`` wide) are written. With ``tile``, ``a:b`` is the span of the
    whole raster's tiles that touch ``c0:c1`` (:meth:`TileGrid.span`), so the written columns are
    what one pass over the whole width would give; without (pointwise models), ``a:b = c0:c1``.
    """
    from crossspec.inference.tiling import tile_starts

    step = max(block, (max(strip, tile or 0) // block) * block)
    if width <= step + 2 * overlap:
        return [(0, width, 0, width)]
    xs = tile_starts(width, tile, overlap) if tile else []
    tw = min(tile, width) if tile else 0
    out = []
    for c0 in range(0, width, step):
        c1 = min(width, c0 + step)
        a, b = c0, c1
        if tile:
            touching = [x for x in xs if x < c1 and x + tw > c0]
            a, b = touching[0], touching[-1] + tw
        out.append((a, b, c0, c1))
    return out


def colorize_image_file(src_path: str | os.PathLike, dst_path: str | os.PathLike, predict: Callable, *,
                        overwrite: bool = False, tile: int = 512, overlap: int = 64, margin: int | None = None,
                        batch_size: int | None = None, progress: Callable[[int], None] | None = None,
                        on_start: Callable[[int], None] | None = None, record: dict | None = None,
                        hints: HintFile | HintMap | None = None) -> Path:
    """Colorize an image file (PNG, JPEG, 8/16-bit TIFF) into an RGB image at ``dst_path``
    (atomically); 16-bit input gives 16-bit output. ``record`` goes to the sidecar
    ``dst_path + ".crossspec.json"`` once the image is in place. ``hints`` (pixel coordinates: an
    image is not georeferenced) need a predictor made with ``hinted=True``."""
    from crossspec.inference.output_provenance import remove_sidecar, write_sidecar
    from crossspec.io.image import save_image

    with open_source(src_path, kind="image") as source:
        data, valid = source.read()
    hint_map = hint_map_for(hints, *data.shape[:2])
    check_hinted_predictor(predict, hint_map)
    if on_start is not None:
        on_start(count_tiles(*data.shape, tile, overlap, margin, pointwise=is_pointwise(predict)))
    # Nodata as 0 (not colorize_array's NaN, which cost two more passes over the image to put in
    # and take out again), channels first as the model gives them: save_image takes the (H, W, 3)
    # view, quantizes in this memory order and transposes only the 8/16-bit result.
    h, w = data.shape
    planes = np.empty((3, h, w), np.float32)

    def write(block: np.ndarray, ok: np.ndarray, y0: int) -> None:
        rows = planes[:, y0:y0 + block.shape[1]]
        np.copyto(rows, block)
        if not ok.all():
            rows[:, ~ok] = 0.0

    stream_colorize(h, w, with_hint_rows(lambda y, n: (data[y:y + n], valid[y:y + n]), hint_map), write, predict,
                    tile=tile, overlap=overlap, margin=margin, batch_size=batch_size, on_tiles=progress)
    if not valid.all():
        np.nan_to_num(planes, copy=False, nan=0.0)
    rgb = np.moveaxis(planes, 0, -1)
    if overwrite:
        # The old record must not outlive the output it describes, even if we stop half-way.
        remove_sidecar(dst_path)
    # save_image writes atomically (temporary file + rename) and refuses to overwrite unless asked.
    out = save_image(dst_path, rgb, bits=source.bits, overwrite=overwrite)
    if record is not None:
        write_sidecar(out, {**record, **source.fields})
    return out


__all__ = ["colorize_array", "colorize_file", "colorize_image_file", "colorize_raster_file",
           "read_input_image", "DataError"]
