"""ColorMamba's HSV branch: a two-encoder U-Net (NIR image + its edge map) predicting HSV.

Its NIR-encoder features at 1/2 ... 1/2**levels are the multi-scale guidance the RGB branch's
SPADE decoders are conditioned on.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.models.colormamba.norm import InstanceNorm2d
from crossspec.models.colormamba.vssb import VSSB


class ConvStage(nn.Module):
    """(3x3 conv -> InstanceNorm -> LeakyReLU) x 2, with an optional VSSB after the second conv.

    ``(B, C_in, H, W)`` -> ``(B, C_out, H, W)``.
    """

    def __init__(self, cin: int, cout: int, vssb: VSSB | None = None) -> None:
        super().__init__()
        # a bias right before a non-affine InstanceNorm is cancelled by it: leave it out
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=vssb is not None)
        self.norm1 = InstanceNorm2d(cout)
        self.norm2 = InstanceNorm2d(cout)
        self.vssb = vssb

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.norm1(self.conv1(x)), 0.2)
        x = self.conv2(x)
        if self.vssb is not None:
            x = self.vssb(x)
        return F.leaky_relu(self.norm2(x), 0.2)


class Encoder(nn.Module):
    """Max-pool U-Net encoder. ``(B, C_in, H, W)`` -> features at scales 1, 1/2, ... 1/2**levels
    with ``width * 2**k`` channels at scale 1/2**k."""

    def __init__(self, in_channels: int, width: int, levels: int, mamba_levels: Sequence[int], vssb_kw: dict) -> None:
        super().__init__()
        chans = [width * 2**k for k in range(levels + 1)]
        self.stages = nn.ModuleList([ConvStage(in_channels, chans[0])])
        for k in range(1, levels + 1):
            vssb = VSSB(chans[k], **vssb_kw) if k in mamba_levels else None
            self.stages.append(ConvStage(chans[k - 1], chans[k], vssb))
        self.channels = chans

    def forward(self, x: torch.Tensor, film: Callable[[torch.Tensor, int], torch.Tensor] | None = None
                ) -> list[torch.Tensor]:
        """``film(feature, level)``, when given, modulates each level's output (domain conditioning)."""
        feats: list[torch.Tensor] = []
        for k, stage in enumerate(self.stages):
            f = stage(x if k == 0 else F.max_pool2d(feats[-1], 2))
            feats.append(f if film is None else film(f, k))
        return feats


class HSVBranch(nn.Module):
    """``forward(nir (B,1,H,W), edge (B,1,H,W))`` -> ``(hsv (B,3,H,W) in [0,1], guidance)``.

    ``guidance[k-1]`` is the NIR-encoder feature at scale 1/2**k, ``(B, width*2**k, H/2**k, W/2**k)``,
    for k = 1..levels. H and W must be multiples of ``2**levels``.
    """

    def __init__(self, width: int = 32, levels: int = 4, mamba_levels: Sequence[int] = (1, 2, 3),
                 vssb_kw: dict | None = None) -> None:
        super().__init__()
        vssb_kw = vssb_kw or {}
        self.levels = levels
        self.enc_nir = Encoder(1, width, levels, mamba_levels, vssb_kw)
        self.enc_edge = Encoder(1, width, levels, mamba_levels, vssb_kw)
        c = self.enc_nir.channels
        self.guidance_channels = tuple(c[1:])
        # decoder widths are twice the encoder's because two encoders feed every skip
        self.ups = nn.ModuleList()
        self.decs = nn.ModuleList()
        for k in range(levels - 1, -1, -1):
            self.ups.append(nn.ConvTranspose2d(2 * c[k + 1], 2 * c[k], 2, stride=2, bias=False))
            self.decs.append(ConvStage(4 * c[k], 2 * c[k]))
        self.up_norms = nn.ModuleList([InstanceNorm2d(2 * c[k]) for k in range(levels - 1, -1, -1)])
        self.head = nn.Conv2d(2 * c[0], 3, 3, padding=1)

    def forward(self, nir: torch.Tensor, edge: torch.Tensor,
                film: Callable[[torch.Tensor, int], torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fn = self.enc_nir(nir, film)
        fe = self.enc_edge(edge)
        y = torch.cat([fn[-1], fe[-1]], dim=1)
        for i, k in enumerate(range(self.levels - 1, -1, -1)):
            y = F.leaky_relu(self.up_norms[i](self.ups[i](y)), 0.2)
            y = self.decs[i](torch.cat([y, fn[k], fe[k]], dim=1))
        # sigmoid, not the released tanh: HSV targets live in [0, 1]
        return torch.sigmoid(self.head(y)), fn[1:]
