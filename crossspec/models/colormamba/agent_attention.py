"""Agent attention (Han et al., "Agent Attention", ECCV 2024) for 2-D feature maps.

A small set of agent tokens, pooled from the queries, first gathers information from all keys and
values; every query then reads from the agents. Cost is linear in the number of pixels, so it
runs at any image size.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class AgentAttention(nn.Module):
    """``forward(x)``: ``(B, H, W, C)`` channels-last -> ``(B, H, W, C)``.

    ``agent_tokens`` must be a square number (49 = 7x7 in ColorMamba); heads fall back to the
    largest divisor of ``C`` not above ``heads`` so narrow test models still build.
    """

    def __init__(self, dim: int, agent_tokens: int = 49, heads: int = 8) -> None:
        super().__init__()
        side = math.isqrt(agent_tokens)
        if side * side != agent_tokens:
            raise ValueError(f"agent_tokens must be a square number, got {agent_tokens}")
        self.pool_side = side
        self.heads = math.gcd(dim, heads)
        self.scale = (dim // self.heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        # depthwise conv on the values restores the local detail that the 49 agents average away
        self.dwc = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        n, nh, hd = h * w, self.heads, c // self.heads
        q, k, v = self.qkv(x).reshape(b, n, 3, c).unbind(2)
        agents = F.adaptive_avg_pool2d(q.transpose(1, 2).reshape(b, c, h, w), self.pool_side)
        agents = agents.reshape(b, c, -1).transpose(1, 2)  # (B, A, C)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, t.shape[1], nh, hd).transpose(1, 2)  # (B, nh, T, hd)

        qh, kh, vh, ah = heads(q), heads(k), heads(v), heads(agents)
        agent_v = torch.softmax((ah * self.scale) @ kh.transpose(-2, -1), dim=-1) @ vh  # (B, nh, A, hd)
        out = torch.softmax((qh * self.scale) @ ah.transpose(-2, -1), dim=-1) @ agent_v  # (B, nh, N, hd)
        out = out.transpose(1, 2).reshape(b, n, c)
        local = self.dwc(v.transpose(1, 2).reshape(b, c, h, w)).reshape(b, c, n).transpose(1, 2)
        return self.proj(out + local).reshape(b, h, w, c)
