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
