"""Where a colorizer's colours go wrong: lightness and chroma, overall and on vegetation, in CIELAB.

    python tools/colour_bias.py --data ../shared/data/vcip2020 --split train-val --split train-fit \
        [--model NAME | --checkpoint RUN] [--every 4] [--write]

For each split it colorizes the NIR images and compares, pixel by pixel, with the true RGB:
- mean L* of prediction and truth, and the chroma ratio mean C*(pred) / mean C*(truth);
- the same on **vegetation**: pixels whose true NDVI (NIR - R) / (NIR + R) exceeds 0.3;
- the mean hue error there (degrees, chroma-weighted);
- the *conditional-mean bound*: the chroma of the truth averaged over 8x8 blocks, which is what a
  model that gets only each block's mean colour right could reach. A chroma ratio near that bound
  means the loss averages colours away; one far below it means the model misses even the mean.
Running it on `train-fit` (training images) as well tells underfitting from a failure to generalise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import header, write_section  # noqa: E402

from crossspec.color import rgb_to_lab  # noqa: E402
from crossspec.data import build_dataset  # noqa: E402
from crossspec.inference.predict import load_for_inference, make_runner  # noqa: E402


def stats(pred: torch.Tensor, true: torch.Tensor, nir: torch.Tensor) -> dict[str, torch.Tensor]:
    """Sums over pixels (pred, true: (1, 3, H, W) RGB; nir (1, 1, H, W)), to be pooled over images."""
    lp, lt = rgb_to_lab(pred), rgb_to_lab(true)
    cp, ct = lp[:, 1:].norm(dim=1), lt[:, 1:].norm(dim=1)
    block = F.avg_pool2d(lt[:, 1:], 8, 8)
    cb = block.norm(dim=1)
    red = true[:, 0]
    veg = ((nir[:, 0] - red) / (nir[:, 0] + red).clamp_min(1e-3)) > 0.3
    hue = torch.atan2(lp[:, 2], lp[:, 1]) - torch.atan2(lt[:, 2], lt[:, 1])
    hue = torch.rad2deg(torch.atan2(torch.sin(hue), torch.cos(hue))).abs()
    w = ct * veg
    return {"n": torch.tensor(float(cp.numel())), "L_pred": lp[:, 0].sum(), "L_true": lt[:, 0].sum(),
            "C_pred": cp.sum(), "C_true": ct.sum(), "C_block": cb.sum() * 64, "n_block": torch.tensor(cb.numel() * 64.0),
            "veg_n": veg.sum().double(), "veg_L_pred": (lp[:, 0] * veg).sum(), "veg_L_true": (lt[:, 0] * veg).sum(),
            "veg_C_pred": (cp * veg).sum(), "veg_C_true": (ct * veg).sum(), "veg_hue": (hue * w).sum(), "veg_w": w.sum()}


def summarise(s: dict[str, float]) -> dict[str, float]:
    return {"L_pred": s["L_pred"] / s["n"], "L_true": s["L_true"] / s["n"],
            "chroma_ratio": s["C_pred"] / s["C_true"], "block_bound": (s["C_block"] / s["n_block"]) / (s["C_true"] / s["n"]),
            "veg_frac": s["veg_n"] / s["n"], "veg_L_pred": s["veg_L_pred"] / s["veg_n"],
            "veg_L_true": s["veg_L_true"] / s["veg_n"], "veg_chroma_ratio": s["veg_C_pred"] / s["veg_C_true"],
            "veg_C_true": s["veg_C_true"] / s["veg_n"], "veg_hue_err": s["veg_hue"] / s["veg_w"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", action="append", default=None)
    ap.add_argument("--model", default=None, help="registered or shipped model (default: the shipped NIR model)")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--every", type=int, default=1, help="score every n-th image of each split")
    ap.add_argument("--json", default=None)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    from crossspec.inference.colorizer import default_model_name

    spec = args.model or (None if args.checkpoint else default_model_name("nir"))
    net = load_for_inference(spec, args.checkpoint, "cpu")
    run = make_runner(net, "nir", amp=False)
    results = {}
    for split in args.split or ["train-val"]:
        ds = build_dataset("vcip2020", root=args.data, split=split)
        sums: dict[str, float] = {}
        with torch.no_grad():
            for i in range(0, len(ds), args.every):
                sample = ds[i]
                nir, true = sample["input"][None], sample["target"][None]
                pred = run(nir).float().clamp(0, 1)
                for k, v in stats(pred.double(), true.double(), nir.double()).items():
                    sums[k] = sums.get(k, 0.0) + float(v)
        results[split] = {"images": len(range(0, len(ds), args.every)), **summarise(sums)}
        print(split, json.dumps({k: round(v, 3) for k, v in results[split].items()}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    lines = [f"Model: {args.checkpoint or spec}. CIELAB (D65) on every pixel; vegetation = true NDVI > 0.3.", "",
             "| split | images | L* pred / true | chroma ratio | 8x8-block bound | vegetation share | veg. L* pred / true "
             "| veg. chroma ratio (true C*) | veg. hue error° |",
             "|---|---|---|---|---|---|---|---|---|"]
    for split, r in results.items():
        lines.append(f"| {split} | {r['images']} | {r['L_pred']:.1f} / {r['L_true']:.1f} | {r['chroma_ratio']:.2f} | "
                     f"{r['block_bound']:.2f} | {r['veg_frac']:.2f} | {r['veg_L_pred']:.1f} / {r['veg_L_true']:.1f} | "
                     f"{r['veg_chroma_ratio']:.2f} ({r['veg_C_true']:.1f}) | {r['veg_hue_err']:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("colour-bias", header() + "\n\n" + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
