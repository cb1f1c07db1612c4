"""Pixel losses. All take ``pred`` and ``target`` of the same shape ``(B, C, H, W)`` and return a
scalar mean over every element."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _same_shape(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    _same_shape(pred, target, "mse")
    return F.mse_loss(pred, target)


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    _same_shape(pred, target, "l1")
    return F.l1_loss(pred, target)


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of sqrt((pred - target)**2 + eps**2) - eps: a smooth L1 that is exactly 0 at equality."""
    _same_shape(pred, target, "charbonnier")
    return (torch.sqrt((pred - target) ** 2 + eps * eps) - eps).mean()


def psnr_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Negative PSNR in dB (data range 1), averaged over the images of the batch.

    Per image, ``10 * log10(mean((pred - target)**2) + eps)``: the quantity the VCIP protocol
    averages, so minimising it weights each image by the inverse of its current MSE instead of
    letting the worst images dominate as a batch MSE does. ``eps`` bounds the value at 100 dB.
    """
    # Not crossspec.metrics.psnr: its input checks read values back every step (a device sync) and
    # turn a NaN prediction into an input error before the engine's NaN stop can name the step, and
    # it is infinite at equality.
    _same_shape(pred, target, "psnr")
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(mse + eps).mean()
