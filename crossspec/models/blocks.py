"""Convolution blocks that several families' decoders share.

Every block keeps the parameter names it had in the families that first used it, so checkpoints of
``unet-vgg16``, ``ddcolor-small``, ``zhang17`` and ``iizuka16`` load unchanged.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 8 groups (1 when ``channels`` is not a multiple of 8): batch-size independent,
    which matters for the small CPU batches."""
    return nn.GroupNorm(8 if channels % 8 == 0 else 1, channels)


def conv_norm_relu(cin: int, cout: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 convolution (no bias; 'same' padding for ``dilation``), GroupNorm, ReLU:
    ``(B, cin, H, W) -> (B, cout, H/stride, W/stride)``."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
                         group_norm(cout), nn.ReLU(inplace=True))


class UpFuse(nn.Module):
    """U-Net decoder step: ``forward(deep (B,Cd,h,w), skip (B,Cs,H,W)) -> (B,cout,H,W)``; ``deep`` is
    upsampled (bilinear) to the skip's size, concatenated (``cin = Cd + Cs``) and passed through two
    :func:`conv_norm_relu` blocks."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_norm_relu(cin, cout), *conv_norm_relu(cout, cout))

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(deep, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.body(torch.cat([up, skip], dim=1))
