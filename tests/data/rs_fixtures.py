"""Tiny multispectral scenes for the raster-pairs tests (generated; never real data).

- ``rgbn``: one 4-band uint8 GeoTIFF (R, G, B, NIR) in UTM 32N with declared nodata 0 in a corner;
- ``bands``: one uint16 file per band in EPSG:3857 (another CRS and pixel size), Sentinel-2 L2A
  style DN with 0 as undeclared fill in the left columns (``fill_zero``), plus a SWIR band at half
  the resolution over the same footprint;
- ``floaty``: a float32 4-band raster with NaN holes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from tests.inference.raster_fixtures import smooth_band, write_raster

H, W = 96, 80


def make_scenes(root: Path) -> dict:
    """Write the three scenes under ``root`` and return a manifest mapping (relative paths)."""
    root.mkdir(parents=True, exist_ok=True)
    rgbn = np.maximum(np.stack([smooth_band(H, W, np.uint8, seed=s) for s in range(4)]), 1)
    rgbn[:, :20, :24] = 0  # declared nodata (0 nowhere else)
    write_raster(root / "rgbn.tif", rgbn, nodata=0)

    (root / "s2").mkdir(exist_ok=True)
    merc = Affine(20.0, 0.0, 1_000_000.0, 0.0, -20.0, 6_000_000.0)
    for i, name in enumerate(("B04", "B03", "B02", "B08")):
        dn = (1000 + smooth_band(H, W, np.uint16, seed=10 + i) // 20).astype(np.uint16)
        dn[:, :10] = 0  # undeclared fill
        write_raster(root / "s2" / f"{name}.tif", dn, crs=CRS.from_epsg(3857), transform=merc)
    swir = (1000 + smooth_band(H // 2, W // 2, np.uint16, seed=20) // 20).astype(np.uint16)
    write_raster(root / "s2" / "B11.tif", swir, crs=CRS.from_epsg(3857),
                 transform=Affine(40.0, 0.0, 1_000_000.0, 0.0, -40.0, 6_000_000.0))

    fl = np.stack([smooth_band(H, W, np.float32, seed=30 + s) for s in range(4)]).astype(np.float32)
    fl[:, 50:60, 30:50] = np.nan
    write_raster(root / "floaty.tif", fl)

    return {"version": 1, "scenes": [
        {"name": "rgbn", "split": "test", "preset": "aerial-8bit", "file": "rgbn.tif",
         "bands": {"red": 1, "green": 2, "blue": 3, "nir": 4}},
        {"name": "s2", "preset": "s2-l2a", "fill_zero": True,
         "bands": {"red": "s2/B04.tif", "green": "s2/B03.tif", "blue": "s2/B02.tif", "nir": ["s2/B08.tif", 1],
                   "swir": {"file": "s2/B11.tif", "band": 1}}},
        {"name": "floaty", "preset": "reflectance", "gain": 1.0, "input_gain": 1.0, "file": "floaty.tif",
         "bands": {"R": 1, "G": 2, "B": 3, "NIR": 4}},
    ]}


def write_manifest(root: Path, doc: dict | None = None) -> Path:
    import yaml

    doc = doc or make_scenes(root)
    path = root / "scenes.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
