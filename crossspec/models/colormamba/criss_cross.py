"""Criss-cross attention (Huang et al., CCNet 2019) used by ColorMamba to fuse two feature maps.

Queries and keys come from the RGB features ``x``; values come from the guidance ``y`` (the
edge-modulated HSV image). Every pixel attends to the pixels of its own row and column.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _conv_pair(cin: int, cout: int, final_relu: bool = True) -> nn.Sequential:
    # The released block put a BatchNorm between the convs; left out so a sample's output never
    # depends on the rest of its batch.
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1)]
    return nn.Sequential(*layers, nn.ReLU()) if final_relu else nn.Sequential(*layers)


class CrissCrossAttention(nn.Module):
    """``forward(x (B, C, H, W), y (B, Cy, H, W))`` -> ``(B, C, H, W)``, any H, W.

    Output = gamma * (row + column attention over values from ``y``) + conv(cat(x, y)); gamma is a
    learned scalar (starts at 0.1 rather than CCNet's 0 so the attention path learns from step 1).

    ``downsample`` > 1 runs the attention branch (query/key/value convs and the attention) on
    ``x`` and ``y`` area-averaged to ``ceil(H / downsample) x ceil(W / downsample)`` and upsamples
    its output bilinearly; the convolutional path stays at full resolution. At full resolution the
    energies are ``(B, H, W, H + W)``, which dominates a CPU training step at 128x128; at 1/4 they
    are 64 times smaller while every pixel still sees its (coarse) row and column.
    """

    def __init__(self, channels: int, guide_channels: int, gamma_init: float = 0.1, downsample: int = 1) -> None:
        super().__init__()
        if downsample < 1:
            raise ValueError(f"downsample must be >= 1, got {downsample}")
        qk = max(channels // 8, 1)
        self.downsample = downsample
        # Queries and keys end without a ReLU: with no BatchNorm before it, a ReLU on these 1-2
        # channels can be zero at every pixel, which leaves the attention uniform and the query
        # and key convs without gradient (it happened at init for half the seeds of the small
        # model, whose attention input is smooth). Same parameters either way.
        self.query = _conv_pair(channels, qk, final_relu=False)
        self.key = _conv_pair(channels, qk, final_relu=False)
        self.value = _conv_pair(guide_channels, channels)
        self.skip = _conv_pair(channels + guide_channels, channels)
        self.gamma = nn.Parameter(torch.tensor(float(gamma_init)))

    @staticmethod
    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Row + column attention: ``q, k (B, Cq, H, W)``, ``v (B, C, H, W)`` -> ``(B, C, H, W)``."""
        h = q.shape[-2]
        # energies along the column (over rows h') and along the row (over columns w')
        e_col = torch.einsum("bchw,bcgw->bhwg", q, k)  # (B, H, W, H)
        e_row = torch.einsum("bchw,bchg->bhwg", q, k)  # (B, H, W, W)
        # the pixel itself appears in both its row and its column: count it once
        eye = torch.eye(h, dtype=torch.bool, device=q.device).view(1, h, 1, h)
        e_col = e_col.masked_fill(eye, float("-inf"))
        att = torch.softmax(torch.cat([e_col, e_row], dim=-1), dim=-1)
        # split, not two slices: its backward is one cat, where each slice's backward zero-fills
        # and copies a whole (B, H, W, H + W) gradient
        a_col, a_row = att.split([h, att.shape[-1] - h], dim=-1)
        return torch.einsum("bhwg,bcgw->bchw", a_col, v) + torch.einsum("bhwg,bchg->bchw", a_row, v)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        xs, ys = x, y
        if self.downsample > 1:
            size = (math.ceil(h / self.downsample), math.ceil(w / self.downsample))
            xs, ys = F.adaptive_avg_pool2d(x, size), F.adaptive_avg_pool2d(y, size)
        out = self.attend(self.query(xs), self.key(xs), self.value(ys))
        if out.shape[-2:] != (h, w):
            out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
        return self.gamma * out + self.skip(torch.cat([x, y], dim=1))
