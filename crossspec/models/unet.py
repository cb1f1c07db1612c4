"""U-Net generator baseline in the style of pix2pix (Isola et al. 2017).

Encoder: 4×4 stride-2 convolutions with LeakyReLU(0.2); decoder: 4×4 stride-2 transposed
convolutions with ReLU and skip concatenation; sigmoid output so RGB lands in [0, 1].
Differences from the original, on purpose: GroupNorm instead of BatchNorm, so the result does not
depend on how a batch is split across processes (DDP) and batch size 1 still normalises sensibly;
dropout defaults to 0 (pix2pix's dropout-as-noise makes runs less reproducible, pass ``dropout``
to get it back); any input size works (reflect padding to a multiple of ``2**depth``, cropped back).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.models.padding import pad_to_multiple
from crossspec.models.registry import register_model


def _norm(channels: int) -> nn.GroupNorm:
    groups = 8 if channels % 8 == 0 and channels >= 16 else 1
    return nn.GroupNorm(groups, channels)


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int, norm: bool) -> None:
        super().__init__()
        self.act = nn.LeakyReLU(0.2)
        self.conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm)
        self.norm = _norm(cout) if norm else nn.Identity()

    def forward(self, x: torch.Tensor, first: bool = False) -> torch.Tensor:
        return self.norm(self.conv(x if first else self.act(x)))


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int, norm: bool, dropout: float) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=not norm)
        self.norm = _norm(cout) if norm else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.norm(self.conv(F.relu(x))))


class UNet(nn.Module):
    """pix2pix-style U-Net colorizer.

    Args:
        in_channels: input bands (1 for NIR / gray).
        out_channels: output channels (3 for RGB).
        base: channels after the first level; doubles per level up to ``base * max_mult``.
        depth: number of stride-2 levels (pix2pix's ``unet_256`` has 8).
        max_mult: cap on the channel multiplier.
        dropout: dropout in the three innermost decoder levels (pix2pix uses 0.5).

    ``forward``: ``(B, in_channels, H, W)`` in [0, 1] -> ``(B, out_channels, H, W)`` in [0, 1],
    any ``H, W``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 3,
        base: int = 64,
        depth: int = 7,
        max_mult: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        chans = [base * min(2**i, max_mult) for i in range(depth)]
        self.downs = nn.ModuleList()
        cin = in_channels
        for i, c in enumerate(chans):
            # No norm on the first level (as pix2pix) nor on the bottleneck, which may be 1×1.
            self.downs.append(_Down(cin, c, norm=0 < i < depth - 1))
            cin = c
        self.ups = nn.ModuleList()
        for i in reversed(range(1, depth)):
            up_in = chans[i] if i == depth - 1 else chans[i] * 2
            drop = dropout if i >= depth - 3 else 0.0
            self.ups.append(_Up(up_in, chans[i - 1], norm=True, dropout=drop))
        self.head = nn.ConvTranspose2d(chans[0] * 2, out_channels, 4, stride=2, padding=1)
        self.size_multiple = 2**depth
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet expects (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        x, (h, w) = pad_to_multiple(x, self.size_multiple)
        skips = []
        y = x
        for i, down in enumerate(self.downs):
            y = down(y, first=i == 0)
            skips.append(y)
        for i, up in enumerate(self.ups):
            y = up(y)
            y = torch.cat([y, skips[-2 - i]], dim=1)
        y = torch.sigmoid(self.head(F.relu(y)))
        return y[..., :h, :w]


@register_model(
    "unet",
    description="pix2pix-style U-Net generator (GroupNorm, sigmoid RGB); train with L1 (+ PatchGAN)",
    domains=("nir", "gray"),
    tiny={"base": 8, "depth": 3},
)
def unet(**kwargs) -> UNet:
    return UNet(**kwargs)
