"""Colourfulness of Hasler and Süsstrunk (2003), per image."""
from __future__ import annotations

import torch

from crossspec.metrics._checks import check_images, check_pair, compute_dtype


def hasler_susstrunk(rgb: torch.Tensor, mask: torch.Tensor | None = None, *, eps: float = 0.0) -> torch.Tensor:
    """The colourfulness formula itself, without input checks: one place for the metric, the
    masked raster metric and the training loss (``crossspec.losses.colorfulness``).

    Args:
        rgb: ``(B, 3, H, W)`` float, channels in [0, 1] (scaled to 0-255 here, the scale the
            paper's 0.3 weight and typical values assume). Computed in ``rgb``'s dtype.
        mask: optional ``(B, 1, H, W)``, 1 = valid pixel: means and (population) variances are
            taken over the valid pixels only; invalid pixels get no gradient. An image without
            a valid pixel scores 0.
        eps: floor, in 0-255 units squared, under the two square roots. 0 gives the exact
            formula, whose gradient is NaN at a gray image (sqrt at 0); a loss passes a small
            positive floor so that gray images get a zero gradient instead.

    Returns:
        ``(B,)`` tensor ``sqrt(var(rg) + var(yb)) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)`` with
        ``rg = R - G``, ``yb = (R + G) / 2 - B``.
    """
    rgb = rgb * 255.0
    r, g, b = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
    opp = torch.stack([r - g, 0.5 * (r + g) - b], dim=1)  # (B, 2, N)
    if mask is None:
        mean = opp.mean(dim=2)
        var = (opp - mean[..., None]).pow(2).mean(dim=2)
    else:
        w = mask.to(opp.dtype).flatten(1)[:, None]  # (B, 1, N)
        count = w.sum(dim=2).clamp_min(1.0)
        mean = (opp * w).sum(dim=2) / count
        var = ((opp - mean[..., None]).pow(2) * w).sum(dim=2) / count
    spread, centre = var.sum(dim=1), mean.pow(2).sum(dim=1)
    if eps > 0:
        spread, centre = spread.clamp_min(eps), centre.clamp_min(eps)
    return torch.sqrt(spread) + 0.3 * torch.sqrt(centre)


def colorfulness(img: torch.Tensor, *, dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
    """Hasler-Süsstrunk colourfulness ``M`` of each image, on the 0-255 scale.

    With ``rg = R - G`` and ``yb = (R + G) / 2 - B`` over all pixels (channels scaled to 0-255):
    ``M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)``.
    A gray image scores 0; the paper calls about 33 "moderately", 59 "quite" and 82+ "extremely" colourful.

    Args:
        img: ``(B, 3, H, W)`` float tensor in ``[0, 1]``.
        dtype: computation dtype (float64 by default; None keeps the input dtype).

    Returns:
        ``(B,)`` tensor, non-negative. Differentiable except at a gray image (sqrt at 0).
    """
    img = check_images("colorfulness", "img", img, channels=3)
    return hasler_susstrunk(img.to(compute_dtype(dtype, img)))


def delta_colorfulness(
    pred: torch.Tensor, target: torch.Tensor, *, dtype: torch.dtype | None = torch.float64
) -> torch.Tensor:
    """``|colorfulness(pred) - colorfulness(target)|`` per image.

    Args:
        pred, target: ``(B, 3, H, W)`` float tensors in ``[0, 1]``.

    Returns:
        ``(B,)`` tensor, non-negative, 0-255 colourfulness units.
    """
    pred, target = check_pair("delta_colorfulness", pred, target, channels=3)
    dt = compute_dtype(dtype, pred, target)
    return (hasler_susstrunk(pred.to(dt)) - hasler_susstrunk(target.to(dt))).abs()
