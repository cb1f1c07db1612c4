"""PSNR and SSIM of a hint-guided colorizer (zhang17) on VCIP test-clean-20 against the number of hints.

Hints are sampled from the ground truth as Zhang et al. (2017) evaluate: for each image a fixed number
of square patches (side ``--side``, default 7 as in the authors' evaluation code) at positions drawn
from a Gaussian around the image centre (std a quarter of each side), each revealing the mean true ab
over its patch (:func:`crossspec.ops.hint_sampling.sample_hints`). The generator of image ``i`` is
seeded with ``seed * 1000 + i`` and the hints of smaller counts are the first ones of larger counts,
so the curve adds hints to the same images rather than redrawing them. 0 hints is automatic colorization.

Scores follow crossspec's protocol (:class:`crossspec.evaluation.Scorer`): full image, prediction
quantized to 8 bits, fp32, SSIM variant ``skimage``.

    python tools/bench_hints.py --checkpoint runs/zhang17-nir --data ../shared/data/vcip2020 [--write]
    python tools/bench_hints.py --checkpoint runs/zhang17-gray --domain gray --data ../shared/data/vcip2020 --write
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from benchmd import REPO, header, write_section

SPLIT = "test-clean-20"
COUNTS = (0, 1, 5, 10, 50)


def hint_curve(model: torch.nn.Module, dataset, domain: str, counts=COUNTS, side: int = 7, seed: int = 0,
               device: str = "cpu") -> dict[int, dict[str, float]]:
    """``{count: {"psnr": mean, "ssim": mean}}`` over ``dataset`` (samples with ``input`` and ``target``)."""
    from crossspec.color import rgb_to_lab
    from crossspec.evaluation import Scorer, quantize
    from crossspec.inference.predict import make_runner
    from crossspec.ops.hint_sampling import sample_hints

    run = make_runner(model.to(device).eval(), domain, amp=False, hinted=True)
    scorer = Scorer("skimage")
    scores: dict[int, dict[str, list[float]]] = {n: {"psnr": [], "ssim": []} for n in counts}
    for i in range(len(dataset)):
        s = dataset[i]
        x, y = s["input"][None], s["target"][None]
        ab = rgb_to_lab(y[0])[1:]
        for n in counts:
            g = torch.Generator().manual_seed(seed * 1000 + i)
            hint_ab, mask = sample_hints(ab, count=n, sides=(side,), generator=g)
            with torch.no_grad():
                pred = run(torch.cat([x, hint_ab[None], mask[None]], 1).to(device)).float().cpu()
            values = scorer(quantize(pred), y)
            for k in ("psnr", "ssim"):
                scores[n][k].append(float(values[k][0]))
    return {n: {k: float(np.mean(v)) for k, v in d.items()} for n, d in scores.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="run folder or weights file of a hint-guided model")
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/vcip2020"), help="VCIP 2020 root")
    ap.add_argument("--domain", choices=("nir", "gray"), default="nir")
    ap.add_argument("--counts", default=",".join(map(str, COUNTS)), help="numbers of hints, comma-separated")
    ap.add_argument("--side", type=int, default=7, help="hint patch side in pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--write", action="store_true",
                    help="rewrite the 'hints-<domain>' section of BENCHMARKS.md")
    args = ap.parse_args(argv)

    from crossspec.data import build_dataset
    from crossspec.models import load_model, model_info

    counts = tuple(int(c) for c in args.counts.split(","))
    model = load_model(args.checkpoint, torch.device(args.device))
    info = model_info(model)
    dataset = build_dataset("vcip2020", root=args.data, split=SPLIT, domain=args.domain)
    t0 = time.time()
    curve = hint_curve(model, dataset, args.domain, counts, args.side, args.seed, args.device)
    lines = [f"{n:>3} hints: PSNR {v['psnr']:.2f} dB, SSIM {v['ssim']:.4f}" for n, v in curve.items()]
    print("\n".join(lines))
    print(f"({len(dataset)} images, {time.time() - t0:.0f} s)", file=sys.stderr)
    if not args.write:
        return
    rows = "\n".join(f"| {n} | {v['psnr']:.2f} | {v['ssim']:.4f} |" for n, v in curve.items())
    body = (header(args.device) + f"\nModel: `{info.name if info else '?'}` from `{args.checkpoint}`, domain "
            f"`{args.domain}`, VCIP `{SPLIT}` ({len(dataset)} images). Hints sampled from the ground truth "
            f"(Zhang et al. 2017 protocol): {args.side}x{args.side} patches of mean true ab at Gaussian "
            f"positions around the centre, seed {args.seed}, the same first hints at every count. 0 hints = "
            "automatic colorization. SSIM: skimage variant; predictions quantized to 8 bits.\n\n"
            "| hints | PSNR (dB) | SSIM |\n|---:|---:|---:|\n" + rows + "\n")
    write_section(f"hints-{args.domain}", body)


if __name__ == "__main__":
    main()
