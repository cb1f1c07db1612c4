"""Angular error between predicted and true RGB vectors, per image."""
from __future__ import annotations

import torch

from crossspec.metrics._checks import check_pair, compute_dtype

# Added to the product of the norms, as in the VCIP 2020 evaluation formula, so that a black
# pixel divides by a small positive number instead of zero.
NORM_EPS = 1e-6


def angular_error(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    """Mean angle in degrees between the RGB vectors of corresponding pixels.

    Per pixel: ``degrees(arccos(clamp(dot(p, g) / (|p| * |g| + 1e-6), -1, 1)))``; averaged over the
    ``H * W`` pixels of each image. A pixel that is black in either image has ``dot = 0`` and
    therefore counts as 90 degrees, exactly as in the challenge's formula.

    Args:
        pred, target: ``(B, 3, H, W)`` float tensors in ``[0, 1]``.
        dtype: computation dtype (float64 by default; None keeps the inputs' dtype).

    Returns:
        ``(B,)`` tensor in degrees, in ``[0, 180]`` (``[0, 90]`` for non-negative inputs).
        Not differentiable where the vectors are parallel (the arccos slope is infinite there).
    """
    pred, target = check_pair("angular_error", pred, target, channels=3)
    dt = compute_dtype(dtype, pred, target)
    p, g = pred.to(dt), target.to(dt)
    dot = (p * g).sum(dim=1)
    norms = torch.linalg.vector_norm(p, dim=1) * torch.linalg.vector_norm(g, dim=1)
    cos = (dot / (norms + NORM_EPS)).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cos)).flatten(1).mean(dim=1)
