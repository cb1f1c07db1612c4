"""Criss-cross attention (Huang et al., CCNet 2019) used by ColorMamba to fuse two feature maps.

Queries and keys come from the RGB features ``x``; values come from the guidance ``y`` (the
edge-modulated HSV image). Every pixel attends to the pixels of its own row and column.
"""
from __future__ import annotations

import torch
import torch.nn as nn


def _conv_pair(cin: int, cout: int) -> nn.Sequential:
    # The released block put a BatchNorm between the convs; left out so a sample's output never
    # depends on the rest of its batch.
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class CrissCrossAttention(nn.Module):
    """``forward(x (B, C, H, W), y (B, Cy, H, W))`` -> ``(B, C, H, W)``.

    Output = gamma * (row + column attention over values from ``y``) + conv(cat(x, y)); gamma is a
    learned scalar (starts at 0.1 rather than CCNet's 0 so the attention path learns from step 1).
    """

    def __init__(self, channels: int, guide_channels: int, gamma_init: float = 0.1) -> None:
        super().__init__()
        qk = max(channels // 8, 1)
        self.query = _conv_pair(channels, qk)
        self.key = _conv_pair(channels, qk)
        self.value = _conv_pair(guide_channels, channels)
        self.skip = _conv_pair(channels + guide_channels, channels)
        self.gamma = nn.Parameter(torch.tensor(float(gamma_init)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = self.query(x), self.key(x), self.value(y)
        # energies along the column (over rows h') and along the row (over columns w')
        e_col = torch.einsum("bchw,bcgw->bhwg", q, k)  # (B, H, W, H)
        e_row = torch.einsum("bchw,bchg->bhwg", q, k)  # (B, H, W, W)
        # the pixel itself appears in both its row and its column: count it once
        eye = torch.eye(h, dtype=torch.bool, device=x.device).view(1, h, 1, h)
        e_col = e_col.masked_fill(eye, float("-inf"))
        att = torch.softmax(torch.cat([e_col, e_row], dim=-1), dim=-1)
        a_col, a_row = att[..., :h], att[..., h:]
        out = torch.einsum("bhwg,bcgw->bchw", a_col, v) + torch.einsum("bhwg,bchg->bchw", a_row, v)
        return self.gamma * out + self.skip(torch.cat([x, y], dim=1))
