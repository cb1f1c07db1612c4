"""Regression losses in a luminance/chrominance space, on the channels a model predicts.

Classic colorizers regress chrominance (Iizuka et al. 2016: a*b* of Lab; Cheng et al. 2015: UV of
YUV) and take the luminance from a gray input. On NIR input they must predict the luminance too;
the loss then covers it. Which channels a model predicted is read from its ``forward_train`` dict:

- :func:`lab_mse_loss`: ``"ab"`` ``(B, 2, H, W)`` (a*, b* in the unit scale of
  :func:`crossspec.color.lab_to_unit`) and, when present, ``"L"`` ``(B, 1, H, W)`` (L* / 100, the
  key zhang16's ``lightness_l1`` term reads too);
- :func:`yuv_mse_loss`: ``"uv"`` ``(B, 2, H, W)`` (U, V of :func:`crossspec.color.rgb_to_yuv`) and,
  when present, ``"y"`` ``(B, 1, H, W)``.

Both return the mean over every predicted channel and pixel (valid pixels only with ``mask``
``(B, 1, H, W)``, 1 = valid), like :func:`crossspec.losses.pixel.mse_loss`.
"""
from __future__ import annotations

from typing import Mapping

import torch

from crossspec.color import lab_to_unit, rgb_to_lab, rgb_to_yuv
from crossspec.errors import CrossspecError
from crossspec.losses.pixel import mse_loss


def _predicted(outputs: Mapping[str, torch.Tensor], chroma: str, luma: str, term: str) -> torch.Tensor:
    if chroma not in outputs:
        raise CrossspecError(f"loss term {term}: the model gives no {chroma!r} output (use a model that regresses "
                             f"{'a*b*' if chroma == 'ab' else 'UV'} chrominance, e.g. "
                             f"{'iizuka16' if chroma == 'ab' else 'cheng15'})")
    return torch.cat([outputs[luma], outputs[chroma]], dim=1) if luma in outputs else outputs[chroma]


def lab_mse_loss(outputs: Mapping[str, torch.Tensor], target_rgb: torch.Tensor,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """MSE of the predicted unit-scaled Lab channels (ab, and L when predicted) against the
    target's. ``target_rgb`` ``(B, 3, H, W)`` in [0, 1]."""
    pred = _predicted(outputs, "ab", "L", "lab_mse")
    with torch.no_grad():
        target = lab_to_unit(rgb_to_lab(target_rgb))
    return mse_loss(pred, target[:, 3 - pred.shape[1]:], mask=mask)


def yuv_mse_loss(outputs: Mapping[str, torch.Tensor], target_rgb: torch.Tensor,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """MSE of the predicted YUV channels (UV, and Y when predicted) against the target's.
    ``target_rgb`` ``(B, 3, H, W)`` in [0, 1]."""
    pred = _predicted(outputs, "uv", "y", "yuv_mse")
    with torch.no_grad():
        target = rgb_to_yuv(target_rgb)
    return mse_loss(pred, target[:, 3 - pred.shape[1]:], mask=mask)
