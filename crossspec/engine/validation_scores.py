"""Validation during training: PSNR / SSIM (scikit-image variant) / AE per image, averaged.

Predictions are rounded to 8-bit levels before scoring, as the VCIP 2020 protocol scores saved
PNGs; the ground truth is never stretched. The ``baseline_psnr`` is the ``nir-gray`` baseline
(input copied to R=G=B) on the same images, so every validation line shows what a model must beat.
Samples with a ``mask`` (raster pairs with nodata) are scored on their valid pixels only
(:mod:`crossspec.metrics.masked`), their PSNR capped at 100 dB; samples without a valid pixel are skipped.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from crossspec.metrics import angular_error, psnr, ssim

MASKED_PSNR_CAP = 100.0


@torch.no_grad()
def score_model(model: nn.Module, dataset: Dataset, device: torch.device, *, preview: int = 4,
             limit: int | None = None, domain: str = "nir") -> tuple[dict[str, float], torch.Tensor | None]:
    """Score ``model`` (in eval mode) on ``dataset`` one image at a time (sizes may differ);
    ``domain`` is passed to models that take one (cooperative models colorize either domain).

    Returns ``({"psnr", "ssim", "ae", "baseline_psnr", "images"}, grid)`` where ``grid`` holds the
    first ``preview`` images as ``input | prediction | target`` rows, ``(3, H', W')`` in [0, 1]
    (None when ``preview`` is 0 or the previews differ in size).
    """
    from crossspec.engine.logging import image_grid
    from crossspec.evaluation import quantize
    from crossspec.inference.predict import make_runner

    # The same runner and rounding as `crossspec eval`, so a validation score means the same thing.
    run = make_runner(model, domain, amp=False)
    was_training = model.training
    model.eval()
    sums = {"psnr": 0.0, "ssim": 0.0, "ae": 0.0, "baseline_psnr": 0.0}
    n = len(dataset) if limit is None else min(limit, len(dataset))  # type: ignore[arg-type]
    scored = 0
    shown: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    try:
        for i in range(n):
            sample = dataset[i]
            x = sample["input"].unsqueeze(0).to(device)
            y = sample["target"].unsqueeze(0).to(device).float()
            # the first input band is the NIR / gray one (raster pairs may add more bands)
            gray = x[:, :1].float().expand(-1, 3, -1, -1)
            pred = quantize(run(x).float())
            if "mask" in sample:
                from crossspec.metrics.masked import masked_scores

                valid = sample["mask"][0].to(device) > 0
                if not bool(valid.any()):
                    continue
                s = masked_scores(pred[0], y[0], valid)
                # a window of saturated snow or ice can be matched exactly (infinite PSNR); capped at
                # 100 dB so one such window cannot make the mean infinite
                sums["psnr"] += min(s["psnr"], MASKED_PSNR_CAP)
                sums["ssim"] += s["ssim"] if s["ssim"] == s["ssim"] else 0.0  # NaN: no wholly valid window
                sums["ae"] += s["ae"]
                sums["baseline_psnr"] += min(masked_scores(gray[0], y[0], valid)["psnr"], MASKED_PSNR_CAP)
            else:
                sums["psnr"] += psnr(pred, y).item()
                sums["ssim"] += ssim(pred, y).item()
                sums["ae"] += angular_error(pred, y).item()
                sums["baseline_psnr"] += psnr(gray, y).item()
            scored += 1
            if len(shown) < preview:
                shown.append((x[0, :1].cpu(), pred[0].cpu(), y[0].cpu()))
    finally:
        model.train(was_training)
    metrics = {k: v / max(scored, 1) for k, v in sums.items()}
    metrics["images"] = scored
    grid = None
    if shown and len({t[0].shape for t in shown}) == 1:
        xs, ps, ys = (torch.stack(t) for t in zip(*shown))
        grid = image_grid(xs, ps, ys)
    return metrics, grid
