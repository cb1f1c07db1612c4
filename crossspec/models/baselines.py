"""Baselines that need no training: sanity floors for every table.

- ``nir-gray``: the input copied to R = G = B.
- ``nir-gain``: the input times one gain per RGB channel, fitted on a training set as
  mean(RGB_c) / mean(input) over all its pixels. Its default gains are that fit on VCIP 2020
  ``train`` (what ``crossspec eval --model nir-gain`` logs when it refits them on the data given).
"""
from __future__ import annotations

from typing import Iterable, Mapping

import torch
import torch.nn as nn

from crossspec.color import gray_to_rgb
from crossspec.models.registry import register_model


def _check_input(x: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected input of shape (B, 1, H, W), got {tuple(x.shape)}")


# ChannelGain.fit on VCIP 2020 `train` (372 pairs): 0.7558, 0.7562, 0.7240.
VCIP2020_TRAIN_GAIN = (0.7558, 0.7562, 0.7240)


class GrayCopy(nn.Module):
    """``(B,1,H,W)`` in [0,1] -> ``(B,3,H,W)`` with three equal channels."""

    size_multiple = 1
    # Each output pixel depends on its own input pixel only: colorize tiles it without overlap.
    receptive_field = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x)
        return gray_to_rgb(x).clone()


class ChannelGain(nn.Module):
    """``(B,1,H,W)`` in [0,1] -> ``(B,3,H,W)`` = clamp(gain_c · x, 0, 1).

    The gain is a buffer, so it is saved with the weights; :meth:`fit` sets it from data.
    """

    size_multiple = 1
    receptive_field = 1  # pointwise: colorize tiles it without overlap

    def __init__(self, gain: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        super().__init__()
        self.register_buffer("gain", torch.tensor(gain, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x)
        return (x * self.gain.view(1, 3, 1, 1).to(x.dtype)).clamp_(0, 1)  # in place: the product is ours

    @torch.no_grad()
    def fit(self, samples: Iterable[Mapping[str, torch.Tensor]]) -> torch.Tensor:
        """Set ``gain`` to mean(target_c) / mean(input) over every pixel of ``samples``.

        ``samples`` yields dicts with ``"input"`` ``(1,H,W)`` and ``"target"`` ``(3,H,W)`` (and
        optionally ``"mask"`` ``(1,H,W)``, 1 = valid: only valid pixels count).
        Returns the fitted gain ``(3,)``.
        """
        rgb_sum = torch.zeros(3, dtype=torch.float64)
        in_sum = torch.zeros((), dtype=torch.float64)
        count = 0
        for s in samples:
            # a sample's "mask" (1,H,W) (raster nodata) keeps invalid pixels out of both sums
            m = s["mask"].double() if "mask" in s else 1.0
            rgb_sum += (s["target"].double() * m).flatten(1).sum(1)
            in_sum += (s["input"].double() * m).sum()
            count += 1
        if count == 0 or in_sum <= 0:
            raise ValueError("cannot fit nir-gain: no samples, or every input pixel is zero")
        self.gain.copy_((rgb_sum / in_sum).float())
        return self.gain.clone()


@register_model("nir-gray", description="input copied to R=G=B (no parameters)", domains=("nir", "gray"), trainable=False)
def nir_gray() -> GrayCopy:
    return GrayCopy()


@register_model(
    "nir-gain",
    description="input times a per-channel gain fitted on the training split",
    domains=("nir", "gray"),
    trainable=False,
)
def nir_gain(gain: tuple[float, float, float] = VCIP2020_TRAIN_GAIN) -> ChannelGain:
    return ChannelGain(tuple(gain))
