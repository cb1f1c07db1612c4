"""Tiny GeoTIFFs for the inference / raster / CLI tests (generated, never real data)."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from affine import Affine

TRANSFORM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4600000.0)
CRS_UTM = CRS.from_epsg(32632)


def write_raster(path: Path, data: np.ndarray, *, nodata=None, crs=CRS_UTM, transform=TRANSFORM, tags=None,
                 **profile) -> Path:
    """``data`` (bands, H, W) or (H, W) -> GeoTIFF at ``path``."""
    if data.ndim == 2:
        data = data[None]
    prof = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata, **profile)
    with warnings.catch_warnings():
        # crs=None, transform=None writes a plain TIFF on purpose
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **prof) as dst:
            dst.write(data)
            if tags:
                dst.update_tags(**tags)
    return path


def smooth_band(h: int, w: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """A smooth random field (H, W) spanning most of ``dtype``'s range."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    f = np.sin(x / 7.0 + rng.uniform(0, 6)) * np.cos(y / 11.0 + rng.uniform(0, 6)) * 0.4 + 0.5
    f += rng.uniform(-0.05, 0.05, size=(h, w)).astype(np.float32)
    top = 255 if dtype == np.uint8 else 65535 if dtype == np.uint16 else 1.0
    return np.clip(f * top, 0, top).astype(dtype)
