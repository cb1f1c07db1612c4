"""HSV loss with a circular hue distance weighted by saturation.

Hue is an angle (here a fraction of a turn in [0, 1]), so 0.02 and 0.98 are close; and hue is
meaningless where a colour is grey, so its error counts in proportion to the target's saturation.
"""
from __future__ import annotations

import torch


def hue_distance(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    """Circular distance between hues in turns, scaled to [0, 1] (1 = opposite hues)."""
    d = torch.remainder(h1 - h2, 1.0)
    return 2.0 * torch.minimum(d, 1.0 - d)


def hsv_loss(pred_hsv: torch.Tensor, target_hsv: torch.Tensor, hue_weight: float = 1.0) -> torch.Tensor:
    """``mean(S_t * hue_distance) * hue_weight + mean|S_p - S_t| + mean|V_p - V_t|``.

    ``pred_hsv``, ``target_hsv``: ``(B, 3, H, W)`` with every channel in [0, 1]
    (:func:`crossspec.color.rgb_to_hsv`). Returns a scalar >= 0, 0 only for equal colours
    (hue ignored where the target is grey).
    """
    if pred_hsv.shape != target_hsv.shape or pred_hsv.shape[-3] != 3:
        raise ValueError(f"hsv loss: expected two (..., 3, H, W) tensors of one shape, got "
                         f"{tuple(pred_hsv.shape)} and {tuple(target_hsv.shape)}")
    hp, sp, vp = pred_hsv.unbind(-3)
    ht, st, vt = target_hsv.unbind(-3)
    hue = (st * hue_distance(hp, ht)).mean()
    return hue_weight * hue + (sp - st).abs().mean() + (vp - vt).abs().mean()
