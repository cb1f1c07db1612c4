"""ColorMamba's RGB branch: a dense-skip U-Net whose decoders are SPADE-conditioned on HSV guidance.

Encoder: ``levels`` stride-2 4x4 convs (VSSBs after the convs at the Mamba levels). Decoder:
transposed convs back up; the decoders whose outputs sit at the guidance scales are SPADE residual
blocks conditioned on the HSV-branch features of that scale; the outputs at the two coarsest
guidance scales are also upsampled and fed to the decoders three or more scales finer (the
released "dense scale" skips). At full resolution the predicted HSV image, SPADE-modulated by the
edge map, is fused with the RGB features by criss-cross attention; a sigmoid gives RGB.

With ``trunk_channels`` the first encoder levels are a pretrained trunk's stages instead
(:mod:`crossspec.models.colormamba.rgb_trunk`); everything else is built the same.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.models.colormamba.criss_cross import CrissCrossAttention
from crossspec.models.colormamba.norm import InstanceNorm2d
from crossspec.models.colormamba.rgb_trunk import TrunkLevel
from crossspec.models.colormamba.spade import SPADEResBlock
from crossspec.models.colormamba.vssb import VSSB


class DownBlock(nn.Module):
    """[LeakyReLU] -> 4x4 stride-2 conv -> [VSSB] -> [InstanceNorm]. Halves H and W."""

    def __init__(self, cin: int, cout: int, *, first: bool, vssb: VSSB | None) -> None:
        super().__init__()
        self.first = first
        # no bias where a non-affine InstanceNorm follows directly (it would cancel it)
        self.conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=first or vssb is not None)
        self.vssb = vssb
        self.norm = None if first else InstanceNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.first:
            x = F.leaky_relu(x, 0.2)
        x = self.conv(x)
        if self.vssb is not None:
            x = self.vssb(x)
        return x if self.norm is None else self.norm(x)


class UpBlock(nn.Module):
    """ReLU -> 4x4 stride-2 transposed conv -> [SPADE res block on guidance] -> InstanceNorm."""

    def __init__(self, cin: int, cout: int, guide_channels: int | None, spade_hidden: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=guide_channels is not None)
        self.spade = SPADEResBlock(cout, cout, guide_channels, spade_hidden) if guide_channels else None
        self.norm = InstanceNorm2d(cout)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        x = self.up(F.relu(x))
        if self.spade is not None:
            x = self.spade(x, guide)
        return self.norm(x)


class RGBBranch(nn.Module):
    """``forward(nir (B,1,H,W), hsv (B,3,H,W), edge (B,1,H,W), guidance)`` -> rgb ``(B,3,H,W)`` in [0, 1].

    ``guidance[k-1]`` is the HSV feature at scale 1/2**k (k = 1..len(guidance_channels)).
    H and W must be multiples of ``2**levels``. ``cross_downsample``: see :class:`CrissCrossAttention`.

    ``trunk_channels``: the channels of a pretrained trunk's stages at strides 1, 2, ..,
    2**(S-1); encoder levels 1 .. S-1 are then :class:`TrunkLevel` s on stages 2 .. S (the
    stride-1 stage feeds none), and ``forward`` takes the trunk's outputs as ``trunk``.
    """

    def __init__(self, width: int = 64, levels: int = 8, guidance_channels: Sequence[int] = (64, 128, 256, 512),
                 mamba_levels: Sequence[int] = (1, 2, 3), max_mult: int = 8, spade_hidden: int = 128,
                 vssb_kw: dict | None = None, cross_downsample: int = 1,
                 trunk_channels: Sequence[int] | None = None) -> None:
        super().__init__()
        g = len(guidance_channels)
        if levels < g + 2:
            raise ValueError(f"levels must be >= len(guidance_channels) + 2 = {g + 2}, got {levels}")
        trunk_channels = tuple(trunk_channels or ())
        if len(trunk_channels) > levels:
            raise ValueError(f"a trunk of {len(trunk_channels)} stages is deeper than the branch's {levels} levels")
        vssb_kw = vssb_kw or {}
        self.levels = levels
        self.guide_scales = {k + 1: c for k, c in enumerate(guidance_channels)}
        # the two coarsest guided scales feed forward densely (1/8 and 1/16 at paper size)
        self.dense_scales = tuple(s for s in (g - 1, g) if s >= 1)
        ch = {0: width, **{k: width * min(2 ** (k - 1), max_mult) for k in range(1, levels + 1)}}

        self.encoder_channels = tuple(ch[k] for k in range(1, levels))
        # Built only with a trunk, so the default branch creates (and initialises) exactly what it did.
        self.trunk_levels = nn.ModuleList(
            TrunkLevel(trunk_channels[k], ch[k], VSSB(ch[k], **vssb_kw) if k in mamba_levels else None)
            for k in range(1, len(trunk_channels))
        ) if trunk_channels else None
        self.trunk_stages = len(trunk_channels)
        self.first_down = max(1, self.trunk_stages)  # the first level a stride-2 conv computes
        self.downs = nn.ModuleList()
        for k in range(self.first_down, levels):
            vssb = VSSB(ch[k], **vssb_kw) if k in mamba_levels else None
            self.downs.append(DownBlock(1 if k == 1 else ch[k - 1], ch[k], first=k == 1, vssb=vssb))
        inner = ch[levels - 1]
        self.innermost = nn.Sequential(
            nn.LeakyReLU(0.2), nn.Conv2d(inner, inner, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(inner, inner, 4, stride=2, padding=1, bias=False), InstanceNorm2d(inner),
        )
        # decoder producing scale k (levels-2 ... 1); the final full-resolution block is separate
        self.ups = nn.ModuleDict()
        for k in range(levels - 2, 0, -1):
            cin = 2 * ch[k + 1] + sum(ch[j] for j in self._dense_inputs(k))
            self.ups[str(k)] = UpBlock(cin, ch[k], self.guide_scales.get(k), spade_hidden)
        cin = 2 * ch[1] + sum(ch[j] for j in self._dense_inputs(0))
        self.final_up = nn.ConvTranspose2d(cin, width, 4, stride=2, padding=1)
        self.hsv_fusion = SPADEResBlock(3, 3, 1, spade_hidden)
        self.cross = CrissCrossAttention(width, 3, downsample=cross_downsample)
        self.head = nn.Conv2d(width, 3, 3, padding=1)

    def _dense_inputs(self, k: int) -> tuple[int, ...]:
        return tuple(j for j in self.dense_scales if j - k >= 3)

    def forward(self, nir: torch.Tensor, hsv: torch.Tensor, edge: torch.Tensor,
                guidance: Sequence[torch.Tensor],
                film: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
                trunk: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """``film(feature, k)``, when given, modulates encoder level k + 1 (scale 1/2**(k+1)).
        ``trunk``: the trunk's stage outputs (``(B, trunk_channels[s], H/2**s, W/2**s)``), needed
        exactly when the branch was built with ``trunk_channels``."""
        if (trunk is not None) != (self.trunk_levels is not None) or (trunk is not None and len(trunk) != self.trunk_stages):
            got = "none" if trunk is None else f"{len(trunk)} stages"
            raise ValueError(f"RGBBranch: expected {self.trunk_stages} trunk stages, got {got}")
        xs = {0: nir}
        for k in range(1, self.levels):
            if k < self.trunk_stages:
                y = self.trunk_levels[k - 1](trunk[k])  # type: ignore[index]
            else:
                y = self.downs[k - self.first_down](xs[k - 1])
            xs[k] = y if film is None else film(y, k - 1)
        ys = {self.levels - 1: self.innermost(xs[self.levels - 1])}

        def gather(k: int) -> list[torch.Tensor]:
            size = xs[k + 1].shape[-2:]
            extra = [F.interpolate(ys[j], size=size, mode="bilinear", align_corners=False) for j in self._dense_inputs(k)]
            return [xs[k + 1], *extra, ys[k + 1]]

        for k in range(self.levels - 2, 0, -1):
            guide = guidance[k - 1] if k in self.guide_scales else None
            ys[k] = self.ups[str(k)](torch.cat(gather(k), dim=1), guide)
        feat = self.final_up(F.relu(torch.cat(gather(0), dim=1)))
        hsv_mod = self.hsv_fusion(hsv, edge)
        return torch.sigmoid(self.head(self.cross(feat, hsv_mod)))
