"""Peak signal-to-noise ratio, per image."""
from __future__ import annotations

import torch

from crossspec.metrics._checks import MetricInputError, check_pair, compute_dtype


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    *,
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    """PSNR in dB: ``10 * log10(data_range**2 / MSE)``, the MSE taken over all pixels and channels.

    Args:
        pred, target: ``(B, C, H, W)`` float tensors with values in ``[0, data_range]``.
        data_range: the largest possible value (1 for images in [0, 1]).
        dtype: dtype to compute in; float64 by default so evaluation numbers do not depend on the
            input precision. ``None`` computes in the inputs' dtype (cheaper inside a training loop).

    Returns:
        ``(B,)`` tensor of ``dtype``; ``+inf`` for an image identical to its target.
        Differentiable with respect to both inputs (where they differ).
    """
    if not data_range > 0:
        raise MetricInputError(f"psnr: data_range must be positive, got {data_range}")
    pred, target = check_pair("psnr", pred, target, channels=None, data_range=data_range)
    dt = compute_dtype(dtype, pred, target)
    diff = pred.to(dt) - target.to(dt)
    mse = diff.square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)
