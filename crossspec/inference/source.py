"""One rule for "raster or image", and one way to open an input, shared by the CLI and the API.

A file is read as a **raster** (rasterio/GDAL: band selection, explicit scaling, nodata, windowed
reads; output a GeoTIFF) when any raster option is given (band, scaling, offset, nodata), when it
is a GDAL path (``/vsizip/...``, ``HDF5:"f.h5"://x``), or when it is georeferenced or has several
bands. Otherwise it is an **image** (PNG, JPEG, plain one-band TIFF; 8/16-bit, output a PNG).
So raster options are never silently ignored: on a plain image they make it a raster.

Scaled values are clipped to [0, 1]; when more than :data:`CLIP_WARN` of the valid pixels (on a
decimated sample) fall outside, a warning says so, and above :data:`CLIP_ERROR` it is an error
unless ``allow_clipping`` (the output would be nearly blank).
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from crossspec.errors import ConfigError, file_error
from crossspec.io.raster import RasterBand, Scaling, has_crs, is_gdal_path, is_georeferenced_raster, open_raster

log = logging.getLogger("crossspec")

CLIP_WARN = 0.2
CLIP_ERROR = 0.99
CLIP_SAMPLE_PIXELS = 1 << 16
# Images have no band choice, scaling or nodata of their own.
IMAGE_FIELDS = {"band": None, "scaling": None, "nodata": None}


def raster_options_given(band: int | None = None, scaling: Scaling | None = None,
                         nodata: float | None = None) -> bool:
    """True when the user asked for anything only a raster read can honour."""
    return band is not None or nodata is not None or (scaling is not None and scaling != Scaling())


def input_kind(path: str | os.PathLike, raster_options: bool) -> str:
    """``"raster"`` or ``"image"``: the rule in this module's docstring."""
    if raster_options or is_gdal_path(path) or is_georeferenced_raster(path):
        return "raster"
    return "image"


def imagery_of(paths) -> str:
    """``"overhead"`` when every path is a raster with a CRS (aerial or satellite imagery), else
    ``"photo"``: which shipped default model fits these inputs."""
    paths = list(paths)
    return "overhead" if paths and all(has_crs(p) for p in paths) else "photo"


@dataclass
class Source:
    """An opened input: ``read(window=None)`` gives ``(h, w)`` float32 in [0, 1] (0 where invalid)
    and validity ``(h, w)`` bool. ``fields`` are its provenance fields (band, scaling, nodata)."""

    kind: str
    height: int
    width: int
    read: Callable
    fields: dict
    may_have_invalid: bool = True
    band: RasterBand | None = None
    bits: int = 8


def _fmt_nodata(value) -> str | None:
    return None if value is None else repr(float(value))


def check_scaled_values(src: RasterBand, allow_clipping: bool = False) -> None:
    """Refuse a band with no valid pixel, and a scaling that pushes nearly all of it out of [0, 1]."""
    if src.may_have_invalid:
        src.check_has_valid()
    s = src.scaling
    if (s.kind == "dtype" and s.offset == 0) or s.kind == "minmax":
        return  # these map the values onto [0, 1] by construction
    # A fraction needs no full-resolution look; a small sample keeps memory flat.
    values = src.sample_valid(CLIP_SAMPLE_PIXELS)
    if values.size == 0:
        values = src.sample_valid()
    if values.size == 0:
        return
    scaled = values * src.map.gain + src.map.bias
    clipped = float(np.mean((scaled < -1e-6) | (scaled > 1 + 1e-6)))
    if clipped <= CLIP_WARN:
        return
    what = (f"{clipped:.1%} of the valid pixels of band {src.band} fall outside [0, 1] after scaling "
            f"{s.describe()} (raw values span [{values.min():g}, {values.max():g}]) and are clipped")
    if clipped > CLIP_ERROR and not allow_clipping:
        raise file_error(src.ds.name, f"{what}; the output would be nearly blank. Check --scale/--offset "
                                      "(or pass --allow-clipping)", ConfigError)
    log.warning("%s: %s", src.ds.name, what)


@contextlib.contextmanager
def open_source(path: str | os.PathLike, *, band: int | None = None, scaling: Scaling | None = None,
                nodata: float | None = None, kind: str | None = None,
                allow_clipping: bool = False, check_values: bool = True) -> Iterator[Source]:
    """Open ``path`` as a raster or an image (``kind``, by default :func:`input_kind`)."""
    kind = kind or input_kind(path, raster_options_given(band, scaling, nodata))
    if kind == "raster":
        scaling = scaling or Scaling()
        with open_raster(path) as ds:
            src = RasterBand(ds, band, scaling, nodata)
            if check_values:
                check_scaled_values(src, allow_clipping)
            fields = {"band": src.band, "scaling": scaling.describe(), "nodata": _fmt_nodata(src.nodata)}
            yield Source("raster", ds.height, ds.width, src.read, fields, src.may_have_invalid, band=src)
        return
    from crossspec.inference.input_image import read_input_image

    data, valid, bits = read_input_image(path)

    def read(window=None):
        if window is None:
            return data, valid
        rows, cols = window.toslices()
        return data[rows, cols], valid[rows, cols]

    yield Source("image", *data.shape, read, dict(IMAGE_FIELDS), not valid.all(), bits=bits)


def source_fields(path: str | os.PathLike, kind: str, *, band: int | None = None, scaling: Scaling | None = None,
                  nodata: float | None = None) -> dict:
    """The provenance fields :func:`open_source` would give, without reading pixels."""
    if kind != "raster":
        return dict(IMAGE_FIELDS)
    with open_source(path, band=band, scaling=scaling, nodata=nodata, kind=kind, check_values=False) as src:
        return src.fields


def output_name(path: str | os.PathLike, kind: str) -> str:
    """An output's file name: the input's stem (a GDAL path's last component) with .tif or .png."""
    from crossspec.io.raster import gdal_stem

    stem = gdal_stem(os.fspath(path)) if is_gdal_path(path) else Path(path).stem
    return stem + (".tif" if kind == "raster" else ".png")
