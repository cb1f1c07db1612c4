"""Where a NIR colorizer's error on overhead rasters comes from: the scene's tone, or its structure.

    python tools/rs_error_budget.py --data ../shared/data [--rasters shared-rgbn] \
        [--checkpoint RUN ...] [--model NAME ...] [--write]

For every held-out scene of the manifest and every model (``nir-gain``, fitted on the training
scenes, always comes first), the prediction is made as ``crossspec eval --rasters`` makes it and
scored three times on the valid pixels:

- **as is**: the PSNR that ``crossspec eval --rasters`` reports;
- **mean-matched**: each RGB channel shifted so that its mean over the scene equals the truth's
  (an oracle that knows each channel's average brightness and nothing else);
- **affine-matched**: each channel mapped by the least-squares ``a * pred + b`` against the truth
  (an oracle that knows the scene's per-channel tone curve, to first order).

The gap from *as is* to *mean-matched* is the part of the error that is the scene's overall colour
and brightness; what is left after *affine-matched* is the per-pixel structure. For ``nir-gain``
the affine-matched score is the best any per-channel linear map of the NIR band can do on that scene.

A second table asks whether the sensor says what the tone is: per-channel linear maps of NIR
(``gain``: ``c * nir``; ``affine``: ``c * nir + d``), fitted on the training scenes' pixels (every
scene weighing the same) either all together or per sensor group (the manifest's ``group``), scored
by leave-one-scene-out over the training scenes and on the held-out scenes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import header, write_section  # noqa: E402

from crossspec.evaluation import quantize  # noqa: E402
from crossspec.inference.predict import load_for_inference, make_predictor  # noqa: E402
from crossspec.metrics.masked import masked_scores  # noqa: E402
from crossspec.raster_eval import colorize_scene, fit_gain, load_scenes, read_pair  # noqa: E402

ORACLES = ("as is", "mean-matched", "affine-matched")


def mean_matched(pred: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``pred`` ``(3, H, W)`` with each channel's valid-pixel mean moved to the truth's."""
    out = pred.copy()
    for c in range(3):
        out[c] += y[c][valid].mean() - pred[c][valid].mean()
    return np.clip(out, 0, 1)


def affine_matched(pred: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``pred`` ``(3, H, W)`` with each channel replaced by its least-squares ``a * p + b`` fit to the truth."""
    out = pred.copy()
    for c in range(3):
        p = pred[c][valid].astype(np.float64)
        design = np.stack([p, np.ones_like(p)], 1)
        a, b = np.linalg.lstsq(design, y[c][valid].astype(np.float64), rcond=None)[0]
        out[c] = a * pred[c] + b
    return np.clip(out, 0, 1)


def psnr(pred: np.ndarray, y: np.ndarray, valid: np.ndarray) -> float:
    p = quantize(torch.from_numpy(np.ascontiguousarray(pred, dtype=np.float32)))
    return float(masked_scores(p, torch.from_numpy(y), torch.from_numpy(valid))["psnr"])


def budget(scenes, models: dict[str, torch.nn.Module]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """``{model: {scene: (as is, mean-matched, affine-matched) PSNR}}``."""
    out: dict[str, dict[str, tuple[float, float, float]]] = {m: {} for m in models}
    predictors = {name: make_predictor(model, "nir", amp=False) for name, model in models.items()}
    for s in scenes:
        x, y, valid = read_pair(s, ("nir",))
        for name, predict in predictors.items():
            pred = colorize_scene(x * valid, valid, predict)
            pred = quantize(torch.from_numpy(pred)).numpy()
            out[name][s.name] = (psnr(pred, y, valid), psnr(mean_matched(pred, y, valid), y, valid),
                                 psnr(affine_matched(pred, y, valid), y, valid))
            print(f"{name} {s.name}: " + " / ".join(f"{v:.2f}" for v in out[name][s.name]), flush=True)
    return out


def scene_pixels(scene, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``step``-th valid pixel: NIR ``(N,)`` and RGB ``(N, 3)`` display values."""
    x, y, valid = read_pair(scene, ("nir",))
    return x[0][valid][::step].astype(np.float64), y[:, valid][:, ::step].T.astype(np.float64)


def linear_design(nir: np.ndarray, affine: bool) -> np.ndarray:
    return np.stack([nir, np.ones_like(nir)], 1) if affine else nir[:, None]


def fit_linear(pixels: list[tuple[np.ndarray, np.ndarray]], affine: bool) -> np.ndarray:
    """Least squares over the pooled pixels, each scene weighing the same."""
    rows, targets = [], []
    for nir, rgb in pixels:
        w = np.sqrt(1.0 / len(nir))
        rows.append(linear_design(nir, affine) * w)
        targets.append(rgb * w)
    return np.linalg.lstsq(np.concatenate(rows), np.concatenate(targets), rcond=None)[0]


def linear_psnr(coef: np.ndarray, nir: np.ndarray, rgb: np.ndarray, affine: bool) -> float:
    pred = np.round(np.clip(linear_design(nir, affine) @ coef, 0, 1) * 255) / 255
    return float(10 * np.log10(1.0 / np.mean((pred - rgb) ** 2)))


def sensor_table(train, test, step: int) -> list[tuple[str, str, float, list[float]]]:
    """Rows ``(form, pooling, leave-one-out mean over training scenes, held-out PSNRs)``."""
    px = {s.name: scene_pixels(s, step) for s in [*train, *test]}
    group = {s.name: s.group for s in [*train, *test]}
    names = [s.name for s in train]
    rows = []
    for affine in (False, True):
        for pooling in ("all scenes", "same group"):
            def pool(target: str, exclude: str | None = None) -> list[str]:
                chosen = [n for n in names if n != exclude and (pooling == "all scenes" or group[n] == group[target])]
                return chosen or [n for n in names if n != exclude]  # a group of one falls back to all

            loo = [linear_psnr(fit_linear([px[m] for m in pool(n, n)], affine), *px[n], affine) for n in names]
            held = [linear_psnr(fit_linear([px[m] for m in pool(s.name)], affine), *px[s.name], affine) for s in test]
            rows.append(("c * nir + d" if affine else "c * nir", pooling, float(np.mean(loo)), held))
    return rows


def render(scores, sensor_rows, test, note: str) -> str:
    names = [s.name for s in test]
    lines = [header(), "Held-out scenes of the manifest, PSNR in dB on valid pixels (prediction rounded to 8 bits, as "
             "`crossspec eval --rasters`): as is / mean-matched / affine-matched (see the tool's docstring). "
             + note, "", "| raster | " + " | ".join(scores) + " |", "|---|" + "---|" * len(scores)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(" / ".join(f"{v:.2f}" for v in scores[m][n]) for m in scores) + " |")
    means = {m: [np.mean([scores[m][n][k] for n in names]) for k in range(3)] for m in scores}
    lines.append(f"| mean ({len(names)} rasters) | " + " | ".join(" / ".join(f"**{v:.2f}**" if k == 0 else f"{v:.2f}"
                                                                           for k, v in enumerate(means[m]))
                                                               for m in scores) + " |")
    lines += ["", "Does the sensor tell the tone? Per-channel linear maps of NIR fitted on the training scenes "
              "(each scene weighing the same), PSNR in dB:", "",
              "| map | fitted on | leave-one-scene-out mean (training scenes) | " + " | ".join(names) + " | held-out mean |",
              "|---|---|---|" + "---|" * (len(names) + 1)]
    for form, pooling, loo, held in sensor_rows:
        lines.append(f"| `{form}` | {pooling} | {loo:.2f} | " + " | ".join(f"{h:.2f}" for h in held)
                     + f" | {np.mean(held):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="root of the manifest's relative paths (../shared/data)")
    ap.add_argument("--rasters", default="shared-rgbn", help="scene manifest (default: the shipped shared-rgbn)")
    ap.add_argument("--checkpoint", action="append", default=[], help="a run dir or checkpoint (repeatable)")
    ap.add_argument("--model", action="append", default=[], help="a registered model name (repeatable)")
    ap.add_argument("--pixel-step", type=int, default=4, help="every n-th valid pixel for the sensor table")
    ap.add_argument("--note", default="", help="appended to the section's first paragraph (what shared the cores)")
    ap.add_argument("--write", action="store_true", help="rewrite the rs-error-budget section of BENCHMARKS.md")
    args = ap.parse_args(argv)
    if Path(args.rasters).is_dir():
        ap.error(f"--rasters {args.rasters}: a folder has no held-out scenes; give a scene manifest that marks some "
                 "'split: test'")
    torch.set_num_threads(1)
    test = load_scenes(args.rasters, args.data, "test")
    train = load_scenes(args.rasters, args.data, "all")  # every scene not marked 'split: test'
    models = {"nir-gain": fit_gain(train)}
    for spec in [*args.checkpoint, *args.model]:
        models[Path(spec).name if spec in args.checkpoint else spec] = load_for_inference(spec, device="cpu")
    scores = budget(test, models)
    body = render(scores, sensor_table(train, test, args.pixel_step), test, args.note)
    print(body)
    if args.write:
        write_section("rs-error-budget", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
