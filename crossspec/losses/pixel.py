"""Pixel losses. All take ``pred`` and ``target`` of the same shape ``(B, C, H, W)`` and return a
scalar mean over every element, or, given ``mask`` ``(B, 1, H, W)`` (1 = valid pixel, e.g. not
nodata in a raster), over the valid pixels only (invalid ones get no gradient)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _same_shape(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


def masked_mean(err: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``err`` ``(B, C, H, W)``; with ``mask`` ``(B, 1, H, W)``, over the valid pixels (0 when none is)."""
    if mask is None:
        return err.mean()
    m = mask.to(err.dtype).expand_as(err)
    return (err * m).sum() / m.sum().clamp_min(1.0)


def mse_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error."""
    _same_shape(pred, target, "mse")
    if mask is None:
        return F.mse_loss(pred, target)
    return masked_mean((pred - target).pow(2), mask)


def l1_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error."""
    _same_shape(pred, target, "l1")
    if mask is None:
        return F.l1_loss(pred, target)
    return masked_mean((pred - target).abs(), mask)


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of sqrt((pred - target)**2 + eps**2) - eps: a smooth L1 that is exactly 0 at equality."""
    _same_shape(pred, target, "charbonnier")
    return masked_mean(torch.sqrt((pred - target) ** 2 + eps * eps) - eps, mask)


def psnr_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-10,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """Negative PSNR in dB (data range 1), averaged over the images of the batch.

    Per image, ``10 * log10(mean((pred - target)**2) + eps)``: the quantity the VCIP protocol
    averages, so minimising it weights each image by the inverse of its current MSE instead of
    letting the worst images dominate as a batch MSE does. ``eps`` bounds the value at 100 dB.
    """
    # Not crossspec.metrics.psnr: its input checks read values back every step (a device sync) and
    # turn a NaN prediction into an input error before the engine's NaN stop can name the step, and
    # it is infinite at equality.
    _same_shape(pred, target, "psnr")
    if mask is None:
        mse = (pred - target).pow(2).flatten(1).mean(dim=1)
        return 10.0 * torch.log10(mse + eps).mean()
    m = mask.to(pred.dtype).expand_as(pred).flatten(1)
    count = m.sum(dim=1)
    mse = ((pred - target).pow(2).flatten(1) * m).sum(dim=1) / count.clamp_min(1.0)
    has = (count > 0).to(pred.dtype)  # images without a valid pixel do not count
    return (10.0 * torch.log10(mse + eps) * has).sum() / has.sum().clamp_min(1.0)
