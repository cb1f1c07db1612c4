"""Domain translators (CoColor's intermediate images): NIR -> pseudo-gray and gray -> pseudo-NIR.

A small U-Net (the ColorMamba HSV branch's encoder stages, optional VSSBs, a transposed-conv
decoder) predicts a correction in logit space: ``out = sigmoid(logit(x) + net(x))``. The last
layer starts at zero, so a fresh translator is the identity and outputs stay in (0, 1).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.errors import CrossspecError
from crossspec.models.colormamba.hsv_branch import ConvStage, Encoder
from crossspec.models.colormamba.norm import InstanceNorm2d
from crossspec.models.padding import pad_to_multiple

_EPS = 1e-3  # keeps logit(x) finite at exact 0 and 1


class Translator(nn.Module):
    """``forward(x (B, 1, H, W) in [0, 1])`` -> ``(B, 1, H, W)`` in (0, 1), any H and W.

    ``source`` / ``target`` name the domains ("nir" -> "gray" or "gray" -> "nir"); ``width`` is
    the first level's channel count (doubling per level), ``levels`` the number of 2x poolings,
    ``mamba_levels`` the levels that get a VSSB (none by default: the mapping is mostly local).
    """

    def __init__(self, source: str = "nir", target: str = "gray", width: int = 16, levels: int = 3,
                 mamba_levels: Sequence[int] = (), d_state: int = 8, agent_tokens: int = 16, heads: int = 4) -> None:
        super().__init__()
        if {source, target} != {"nir", "gray"}:
            raise ValueError(f"translator: source/target must be nir and gray, got {source!r} -> {target!r}")
        self.source, self.target = source, target
        vssb_kw = dict(d_state=d_state, agent_tokens=agent_tokens, heads=heads)
        self.encoder = Encoder(1, width, levels, tuple(mamba_levels), vssb_kw)
        c = self.encoder.channels
        self.ups = nn.ModuleList()
        self.up_norms = nn.ModuleList()
        self.decs = nn.ModuleList()
        for k in range(levels - 1, -1, -1):
            self.ups.append(nn.ConvTranspose2d(c[k + 1], c[k], 2, stride=2, bias=False))
            self.up_norms.append(InstanceNorm2d(c[k]))
            self.decs.append(ConvStage(2 * c[k], c[k]))
        self.head = nn.Conv2d(c[0], 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.levels = levels
        self.size_multiple = 2**levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise CrossspecError(f"{self.source}2{self.target} input: expected a (B, 1, H, W) tensor, got {shape}")
        xp, (h, w) = pad_to_multiple(x, self.size_multiple)
        feats = self.encoder(xp)
        y = feats[-1]
        for i, k in enumerate(range(self.levels - 1, -1, -1)):
            y = F.leaky_relu(self.up_norms[i](self.ups[i](y)), 0.2)
            y = self.decs[i](torch.cat([y, feats[k]], dim=1))
        logit = torch.logit(xp.clamp(_EPS, 1 - _EPS))
        return torch.sigmoid(logit + self.head(y))[..., :h, :w]
