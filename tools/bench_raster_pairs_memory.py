"""Peak memory of the raster-pairs dataset over a folder of N versus 4N synthetic rasters.

    python tools/bench_raster_pairs_memory.py --n 16 --side 512 --samples 200           # print
    python tools/bench_raster_pairs_memory.py --n 16 --side 512 --samples 200 --write   # and update BENCHMARKS.md

Writes N and 4N 4-band uint16 GeoTIFFs (``--side`` px square, deflate) into a temporary folder,
then, in a fresh process per folder, builds ``RasterPairs`` over it (folder mode) and draws
``--samples`` random training windows, reporting the peak RSS (``ru_maxrss``) before and after.
The dataset keeps only file headers, so the peak should not grow with the number of files.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import header, write_section  # noqa: E402


def _make(folder: Path, n: int, side: int) -> None:
    import numpy as np
    import rasterio
    from affine import Affine

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        data = rng.integers(1, 4000, (4, side, side), dtype=np.uint16)
        prof = dict(driver="GTiff", width=side, height=side, count=4, dtype="uint16", crs="EPSG:32632",
                    transform=Affine(10, 0, 500000 + i * side * 10, 0, -10, 4600000), tiled=True,
                    blockxsize=256, blockysize=256, compress="deflate", nodata=0)
        with rasterio.open(folder / f"r{i:04d}.tif", "w", **prof) as dst:
            dst.write(data)


def _child(folder: str, samples: int, window: int) -> None:
    import resource

    import torch

    from crossspec.data.raster_pairs import RasterPairs

    torch.set_num_threads(1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ds = RasterPairs(folder, "train", window=window, length=samples, split_mode="block", block=window * 2,
                     folder_bands={"red": 1, "green": 2, "blue": 3, "nir": 4}, preset="s2-pre04")
    built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    torch.manual_seed(0)
    for i in range(samples):
        ds[i]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"files": len(list(Path(folder).glob("*.tif"))), "scenes": len(ds.entries),
                      "rss_import_mb": before, "rss_built_mb": built, "peak_rss_mb": after}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--write", action="store_true", help="update the bench_raster_pairs_memory section of BENCHMARKS.md")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.samples, args.window)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.n, 4 * args.n):
            folder = Path(tmp) / f"n{n}"
            _make(folder, n, args.side)
            out = subprocess.run([sys.executable, __file__, "--child", str(folder), "--samples", str(args.samples),
                                  "--window", str(args.window)], check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    ratio = rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print(f"peak RSS {rows[1]['files']} files / {rows[0]['files']} files = {ratio:.3f}")
    if args.write:
        lines = [header(), "",
                 f"`RasterPairs` in folder mode over N and 4N synthetic 4-band uint16 GeoTIFFs ({args.side} px square, "
                 f"deflate, 256 px tiles), {args.samples} random {args.window} px training windows, each folder in a "
                 "fresh process:", "",
                 "| files | scenes | RSS after import (MB) | after building the dataset | peak after sampling |",
                 "|---|---|---|---|---|"]
        lines += [f"| {r['files']} | {r['scenes']} | {r['rss_import_mb']:.0f} | {r['rss_built_mb']:.0f} | "
                  f"{r['peak_rss_mb']:.0f} |" for r in rows]
        lines += ["", f"Peak RSS 4N / N: **{ratio:.3f}**."]
        write_section("bench_raster_pairs_memory", "\n".join(lines))


if __name__ == "__main__":
    main()
