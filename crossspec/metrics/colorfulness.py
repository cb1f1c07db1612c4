"""Colourfulness of Hasler and Süsstrunk (2003), per image."""
from __future__ import annotations

import torch

from crossspec.metrics._checks import check_images, check_pair, compute_dtype


def _colorfulness(img: torch.Tensor, dt: torch.dtype) -> torch.Tensor:
    # The paper's constants (0.3 weight, typical values 0-110) assume 8-bit channel values.
    rgb = img.to(dt) * 255.0
    r, g, b = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
    rg = r - g
    yb = 0.5 * (r + g) - b
    # Population standard deviation (over all pixels of the image), as in the paper.
    std_rg, mean_rg = rg.std(dim=1, correction=0), rg.mean(dim=1)
    std_yb, mean_yb = yb.std(dim=1, correction=0), yb.mean(dim=1)
    return torch.sqrt(std_rg**2 + std_yb**2) + 0.3 * torch.sqrt(mean_rg**2 + mean_yb**2)


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
    return _colorfulness(img, compute_dtype(dtype, img))


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
    return (_colorfulness(pred, dt) - _colorfulness(target, dt)).abs()
