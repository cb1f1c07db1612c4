"""The five sub-networks of Iizuka et al. (2016), with every width a multiple of ``width``.

The paper's widths are those of ``width=64`` (Table 1 of the paper):

=====================  ==========================================================================
low-level features     3x3 convs 64 (s2), 128, 128 (s2), 256, 256 (s2), 512   -> 512 x H/8 x W/8
mid-level features     3x3 convs 512, 256                                     -> 256 x H/8 x W/8
global features        3x3 convs 512 (s2), 512, 512 (s2), 512 on the low-level features of the
                       224x224 image (7x7 left), then fully connected 1024, 512, 256
fusion                 [mid; global broadcast] -> 1x1 conv 256 (a per-position linear layer)
colorization           conv 128, up x2, conv 64, conv 64, up x2, conv 32, conv out: H/2
classification         fully connected 256, K on the 512-vector of the global network
=====================  ==========================================================================
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.models.blocks import conv_norm_relu


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv (padding 1), GroupNorm, ReLU."""
    return conv_norm_relu(cin, cout, stride=stride)


class LowLevel(nn.Module):
    """``(B, 1, H, W)`` -> ``(B, 8w, H/8, W/8)``; ``H, W`` multiples of 8."""

    def __init__(self, w: int) -> None:
        super().__init__()
        chans = (w, 2 * w, 2 * w, 4 * w, 4 * w, 8 * w)
        strides = (2, 1, 2, 1, 2, 1)
        layers, cin = [], 1
        for c, s in zip(chans, strides):
            layers.append(conv_block(cin, c, s))
            cin = c
        self.body = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MidLevel(nn.Module):
    """``(B, 8w, h, w)`` -> ``(B, 4w, h, w)``."""

    def __init__(self, w: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_block(8 * w, 8 * w), conv_block(8 * w, 4 * w))
        self.out_channels = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class GlobalFeatures(nn.Module):
    """Low-level features of the ``size x size`` image -> ``(B, 4w)`` global vector and the
    ``(B, 8w)`` vector the classifier reads.

    ``size`` must be a multiple of 32 (8 for the low-level network, 4 for the two strided convs
    here); the first fully connected layer sees ``8w * (size/32)^2`` values.
    """

    def __init__(self, w: int, size: int) -> None:
        super().__init__()
        if size < 32 or size % 32:
            raise ValueError(f"global_size must be a positive multiple of 32, got {size}")
        self.convs = nn.Sequential(conv_block(8 * w, 8 * w, 2), conv_block(8 * w, 8 * w),
                                   conv_block(8 * w, 8 * w, 2), conv_block(8 * w, 8 * w))
        side = size // 32
        self.fc1 = nn.Linear(8 * w * side * side, 16 * w)
        self.fc2 = nn.Linear(16 * w, 8 * w)
        self.fc3 = nn.Linear(8 * w, 4 * w)
        self.out_channels = 4 * w
        self.class_channels = 8 * w

    def forward(self, low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.convs(low).flatten(1)
        h = F.relu(self.fc1(h))
        mid = F.relu(self.fc2(h))
        return F.relu(self.fc3(mid)), mid


class Fusion(nn.Module):
    """Broadcast the global vector to every position of the mid-level map and mix both with a
    1x1 conv: ``(B, Cm, h, w)``, ``(B, Cg)`` -> ``(B, Cm, h, w)``."""

    def __init__(self, mid_channels: int, global_channels: int) -> None:
        super().__init__()
        self.mix = nn.Conv2d(mid_channels + global_channels, mid_channels, 1)

    def forward(self, mid: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
        g = glob[:, :, None, None].expand(-1, -1, *mid.shape[-2:])
        return F.relu(self.mix(torch.cat([mid, g], dim=1)))


class Colorization(nn.Module):
    """``(B, 4w, H/8, W/8)`` -> ``(B, out, H/2, W/2)`` raw outputs (the caller applies the paper's
    sigmoid); the paper upsamples by nearest neighbour inside the network."""

    def __init__(self, w: int, out_channels: int) -> None:
        super().__init__()
        half = max(1, w // 2)
        self.body = nn.Sequential(
            conv_block(4 * w, 2 * w), nn.Upsample(scale_factor=2, mode="nearest"),
            conv_block(2 * w, w), conv_block(w, w), nn.Upsample(scale_factor=2, mode="nearest"),
            conv_block(w, half), nn.Conv2d(half, out_channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Classifier(nn.Module):
    """``(B, 8w)`` -> ``(B, K)`` scene logits (fully connected 4w, then K)."""

    def __init__(self, w: int, num_classes: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8 * w, 4 * w)
        self.fc2 = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))
