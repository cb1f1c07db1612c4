"""L1 loss on CIE L* lightness, for colorizers that regress lightness (Zhang'16 on NIR input)."""
from __future__ import annotations

import torch

from crossspec.losses.pixel import masked_mean


def lightness_l1(pred_l: torch.Tensor, target_l: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean ``|pred_l - target_l|`` of lightness maps ``(B, 1, H, W)`` given as ``L* / 100`` in [0, 1];
    with ``mask`` ``(B, 1, H, W)`` over the valid pixels only."""
    if pred_l.shape != target_l.shape or pred_l.dim() != 4 or pred_l.shape[1] != 1:
        raise ValueError(f"lightness_l1: prediction {tuple(pred_l.shape)} and target {tuple(target_l.shape)} "
                         "must both be (B, 1, H, W)")
    return masked_mean((pred_l - target_l).abs(), mask)
