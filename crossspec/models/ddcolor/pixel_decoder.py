"""DDColor's pixel decoder on a VGG16 trunk: a U-Net path from the deepest stage to full resolution.

Each step upsamples (bilinear, x2 to the skip's size), concatenates the encoder stage of that
scale (at full resolution also the input image itself, so fine luminance detail is at hand) and
applies two 3x3 convolutions with GroupNorm and ReLU. DDColor upsamples with PixelShuffle blocks
on a ConvNeXt; bilinear + convolution costs less on a CPU and the structure is the same: every
level of the path is returned, so the colour decoder can read the coarse ones and the fusion the
finest.
"""
from __future__ import annotations

import torch
import torch.nn as nn


from crossspec.models.blocks import UpFuse


class PixelDecoder(nn.Module):
    """Args: ``channels``, the encoder stages' widths (finest first, e.g. VGG16's 64..512);
    ``widths``, the decoder's width at each level from the second-deepest stage up to full
    resolution (``len(channels) - 1`` entries); ``extra``, channels appended to the finest skip
    (1: the input image).

    ``forward(stages, extra)``: encoder outputs (finest first) and the ``(B, extra, H, W)`` image
    -> list of ``len(channels)`` maps, coarsest first: the deepest encoder stage itself, then each
    decoder level up to ``(B, widths[-1], H, W)``.
    """

    def __init__(self, channels: tuple[int, ...], widths: tuple[int, ...], extra: int = 1) -> None:
        super().__init__()
        if len(widths) != len(channels) - 1:
            raise ValueError(f"pixel decoder: widths needs {len(channels) - 1} entries for {len(channels)} "
                             f"encoder stages, got {len(widths)}")
        self.fuses = nn.ModuleList()
        deep = channels[-1]
        for level, w in zip(range(len(channels) - 2, -1, -1), widths):
            self.fuses.append(UpFuse(deep + channels[level] + (extra if level == 0 else 0), w))
            deep = w
        self.widths = (channels[-1], *widths)  # of the returned maps, coarsest first

    def forward(self, stages: list[torch.Tensor], extra: torch.Tensor) -> list[torch.Tensor]:
        skips = list(stages[:-1])
        skips[0] = torch.cat([skips[0], extra], dim=1)
        y = stages[-1]
        out = [y]
        for fuse, skip in zip(self.fuses, reversed(skips)):
            y = fuse(y, skip)
            out.append(y)
        return out
