"""Structural losses: 1 - SSIM and 1 - MS-SSIM, using :func:`crossspec.metrics.ssim`."""
from __future__ import annotations

import torch


def _ssim(pred: torch.Tensor, target: torch.Tensor, variant: str) -> torch.Tensor:
    # imported at call time: crossspec.metrics imports nothing from losses, and stays optional here
    from crossspec.metrics import ssim

    # dtype=None: compute in the inputs' dtype, as a training loop wants
    return ssim(pred, target, variant=variant, dtype=None)


def ssim_loss(pred: torch.Tensor, target: torch.Tensor, variant: str = "gaussian") -> torch.Tensor:
    """``1 - mean SSIM`` over the batch. ``(B, C, H, W)`` in [0, 1] -> scalar in [0, 2]."""
    return 1.0 - _ssim(pred, target, variant).mean()


def msssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - mean MS-SSIM`` over the batch. Needs images large enough for the five scales."""
    return 1.0 - _ssim(pred, target, "ms-ssim").mean()
