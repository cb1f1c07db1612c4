"""Colorize full-resolution NIR photographs at several work scales and score them against their RGB.

VCIP 2020 shows whole scenes at about 0.38 of the EPFL camera's resolution, so a VCIP model meets
objects 2.7x larger than it learned on a full-resolution photograph. This measures what running it
at a smaller work scale (`colorize --work-scale`, guided upsampling back to full resolution) changes:

    python tools/bench_full_resolution.py --photos ../shared/data/epfl-rgbnir-country \
        --scales 1,0.5,0.375 --every 6 [--figure docs/figures/full-res-work-scale.png] [--write]

Scores per photograph at full resolution: PSNR, SSIM (skimage variant), AE, colourfulness, and
*flat-region texture*: the mean 5x5 standard deviation of the output's luminance where the NIR
input is flat (its own 5x5 std below 1/255), next to the same for the true RGB. The EPFL
photographs are JPEG re-encodes: their flat dark regions (sky) are 8x8 blocks and 8-bit steps that a
model can amplify into stripes. These photographs contain the sources of VCIP's Testing crops
(and of training crops): this is a scale-shift check, not a held-out score.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import header, write_section  # noqa: E402

import crossspec  # noqa: E402
from crossspec.color import rgb_to_luminance  # noqa: E402
from crossspec.io.image import load_image  # noqa: E402
from crossspec.metrics import angular_error, colorfulness, psnr, ssim  # noqa: E402
from crossspec.ops.guided_upsample import box_mean  # noqa: E402


def local_std(x: torch.Tensor, r: int = 2) -> torch.Tensor:
    """(1, 1, H, W) -> (1, 1, H, W): standard deviation in each (2r+1)^2 window."""
    m, m2 = box_mean(x, r), box_mean(x * x, r)
    return (m2 - m * m).clamp_min(0).sqrt()


def score(pred: np.ndarray, rgb: np.ndarray, nir: np.ndarray) -> dict:
    p = torch.from_numpy(pred).permute(2, 0, 1)[None].double()
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None].double()
    flat = local_std(torch.from_numpy(nir)[None, None].double()) < 1 / 255
    flat_frac = float(flat.double().mean())
    tex = lambda img: float(local_std(rgb_to_luminance(img))[flat].mean()) * 255 if flat.any() else float("nan")  # noqa: E731
    return {"psnr": float(psnr(p, t)), "ssim": float(ssim(p, t)), "ae": float(angular_error(p, t)),
            "cf": float(colorfulness(p)), "cf_true": float(colorfulness(t)), "flat_frac": flat_frac,
            "flat_tex": tex(p), "flat_tex_true": tex(t)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", required=True, help="folder of NNNN_nir.* / NNNN_rgb.* pairs")
    ap.add_argument("--model", default=None, help="model name or checkpoint (default: the shipped NIR model)")
    ap.add_argument("--scales", default="1,0.5,0.375")
    ap.add_argument("--every", type=int, default=6, help="take every n-th pair (sorted by name)")
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--json", default=None)
    ap.add_argument("--figure", default=None, help="PNG: a crop of one photo at each scale and the truth")
    ap.add_argument("--figure-photo", default=None, help="the figure's photo (NNNN; default: the first scored)")
    ap.add_argument("--figure-crop", default="0,0,512,256", help="x,y,w,h of the figure's crop")
    ap.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = ap.parse_args(argv)

    scales = [float(s) for s in args.scales.split(",")]
    nirs = sorted(p for p in Path(args.photos).iterdir() if p.stem.endswith("_nir"))[:: args.every]
    if not nirs:
        raise SystemExit(f"{args.photos}: no *_nir.* files")
    fig_photo = args.figure_photo or nirs[0].stem[:-4]
    extra = [] if any(p.stem[:-4] == fig_photo for p in nirs) or not args.figure else \
        sorted(Path(args.photos).glob(f"{fig_photo}_nir.*"))[:1]
    rows: dict[float, list[dict]] = {s: [] for s in scales}
    crops: dict[str, np.ndarray] = {}
    x0, y0, w, h = (int(v) for v in args.figure_crop.split(","))
    for s in scales:
        col = crossspec.load_colorizer(args.model, device="cpu", work_scale=s)
        for path in [*nirs, *extra]:
            rgb_path = next(path.parent.glob(path.stem[:-4] + "_rgb.*"))
            nir = load_image(path, "gray")[..., 0]
            rgb = load_image(rgb_path, "rgb")
            t0 = time.perf_counter()
            pred = col.colorize(nir, tile=args.tile, overlap=64)
            if path not in extra:
                row = {"photo": path.stem[:-4], "seconds": time.perf_counter() - t0, **score(pred, rgb, nir)}
                rows[s].append(row)
                print(json.dumps({"scale": s, **{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}}),
                      flush=True)
            if path.stem[:-4] == fig_photo:
                crops[f"work scale {s:g}"] = pred[y0:y0 + h, x0:x0 + w]
                crops["true RGB"] = rgb[y0:y0 + h, x0:x0 + w]
                crops["NIR input"] = np.repeat(nir[y0:y0 + h, x0:x0 + w, None], 3, axis=2)
    if args.json:
        Path(args.json).write_text(json.dumps({str(s): r for s, r in rows.items()}, indent=1))
    keys = ("psnr", "ssim", "ae", "cf", "flat_tex", "seconds")
    lines = [f"{len(nirs)} photographs ({', '.join(p.stem[:-4] for p in nirs)}), tile {args.tile}, overlap 64; "
             f"model {args.model or 'shipped default'}; means over photographs, full resolution.", "",
             "| work scale | PSNR | SSIM | AE° | CF (true {:.1f}) | flat-region texture (true {:.2f}) | s / photo |".format(
                 np.mean([r["cf_true"] for r in rows[scales[0]]]), np.mean([r["flat_tex_true"] for r in rows[scales[0]]])),
             "|---|---|---|---|---|---|---|"]
    for s in scales:
        m = {k: float(np.nanmean([r[k] for r in rows[s]])) for k in keys}
        lines.append(f"| {s:g} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['ae']:.2f} | {m['cf']:.1f} | "
                     f"{m['flat_tex']:.2f} | {m['seconds']:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.figure:
        from PIL import Image

        order = ["NIR input", *[f"work scale {s:g}" for s in scales], "true RGB"]
        tiles = [np.clip(crops[k] * 255 + 0.5, 0, 255).astype(np.uint8) for k in order]
        Image.fromarray(np.concatenate(tiles, axis=0)).save(args.figure)
        print(f"figure: {args.figure} (top to bottom: {', '.join(order)})")
    if args.write:
        write_section("full-resolution", header() + "\n\n" + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
