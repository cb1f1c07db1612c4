"""Visual state-space block (VSSB) of ColorMamba.

LayerNorm -> ring of learnable padding tokens -> SS2D -> crop -> residual, then a local 3x3
convolution pair and agent attention, each with a residual. The padding ring is what the paper
calls "learnable padding tokens": every one of the four scan directions starts and ends on learned
vectors instead of on image content (the released code padded with a constant zero ring).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from crossspec.models.colormamba.agent_attention import AgentAttention
from crossspec.models.colormamba.ss2d import SS2D


class PaddingRing(nn.Module):
    """Surround a channels-last map with learned tokens: ``(B, H, W, C)`` -> ``(B, H+2, W+2, C)``.

    Four per-channel vectors: top row, bottom row, left and right columns (corners belong to the
    top and bottom rows).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(4, dim) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        top, bottom, left, right = (t.to(x.dtype) for t in self.tokens)
        mid = torch.cat([left.expand(b, h, 1, c), x, right.expand(b, h, 1, c)], dim=2)
        return torch.cat([top.expand(b, 1, w + 2, c), mid, bottom.expand(b, 1, w + 2, c)], dim=1)


class LocalConv(nn.Module):
    """3x3 conv C -> C/3 -> GELU -> 3x3 conv C/3 -> C. ``(B, C, H, W)`` -> same."""

    def __init__(self, dim: int, compress: int = 3) -> None:
        super().__init__()
        mid = max(dim // compress, 1)
        self.body = nn.Sequential(nn.Conv2d(dim, mid, 3, padding=1), nn.GELU(), nn.Conv2d(mid, dim, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class VSSB(nn.Module):
    """ColorMamba's Mamba block. ``forward(x)``: ``(B, C, H, W)`` -> ``(B, C, H, W)``, any H, W."""

    def __init__(self, dim: int, d_state: int = 16, expand: float = 2.0, agent_tokens: int = 49,
                 heads: int = 8, use_agent: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.ring = PaddingRing(dim)
        self.ss2d = SS2D(dim, d_state=d_state, expand=expand)
        # per-channel residual scales as in MambaIR
        self.skip_scale = nn.Parameter(torch.ones(dim))
        self.norm2 = nn.LayerNorm(dim)
        self.local = LocalConv(dim)
        self.use_agent = use_agent
        if use_agent:
            self.norm3 = nn.LayerNorm(dim)
            self.agent = AgentAttention(dim, agent_tokens=agent_tokens, heads=heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.permute(0, 2, 3, 1)  # channels-last for the token-wise layers
        y = self.ss2d(self.ring(self.norm1(t)))[:, 1:-1, 1:-1, :]
        t = t * self.skip_scale + y
        t = t + self.local(self.norm2(t).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        if self.use_agent:
            t = t + self.agent(self.norm3(t))
        return t.permute(0, 3, 1, 2).contiguous()
