"""Domain conditioning: a learned per-domain scale and shift of encoder features (FiLM).

One colorizer can serve several input domains (NIR, gray) when it is told which one it sees:
feature ``f`` of encoder level ``k`` becomes ``f * (1 + gamma[d, k]) + beta[d, k]`` for domain
index ``d``. Both tables start at zero, so a fresh model treats every domain alike and the
difference is learned.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import torch
import torch.nn as nn

from crossspec.errors import CrossspecError

DOMAIN_INDEX = {"nir": 0, "gray": 1}


def domain_index(domain: str | int | torch.Tensor, batch: int, num_domains: int, device: torch.device) -> torch.Tensor:
    """``(B,)`` long tensor of domain indices from a name, an int or a ``(B,)`` tensor."""
    if isinstance(domain, str):
        if domain not in DOMAIN_INDEX:
            raise CrossspecError(f"domain: expected one of {', '.join(DOMAIN_INDEX)}, got {domain!r}")
        domain = DOMAIN_INDEX[domain]
    idx = torch.as_tensor(domain, dtype=torch.long, device=device)
    if idx.dim() == 0:
        idx = idx.expand(batch)
    if idx.shape != (batch,):
        raise CrossspecError(f"domain: expected a name, an int or a ({batch},) tensor, got shape {tuple(idx.shape)}")
    # Range-checked where it costs no device sync (every training forward passes a tensor).
    if idx.device.type == "cpu" and (int(idx.min()) < 0 or int(idx.max()) >= num_domains):
        raise CrossspecError(f"domain: indices must be in [0, {num_domains}), got {idx.tolist()}")
    return idx


class DomainFiLM(nn.Module):
    """Per-domain, per-level channel scale and shift.

    ``forward(f (B, C_k, H, W), level k, domain (B,) long)`` -> same shape as ``f``; ``channels[k]``
    is ``C_k``.
    """

    def __init__(self, num_domains: int, channels: Sequence[int]) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.gamma = nn.Parameter(torch.zeros(num_domains, sum(self.channels)))
        self.beta = nn.Parameter(torch.zeros(num_domains, sum(self.channels)))
        self.offsets = [0, *itertools.accumulate(self.channels)]

    def forward(self, f: torch.Tensor, level: int, domain: torch.Tensor) -> torch.Tensor:
        lo, hi = self.offsets[level], self.offsets[level + 1]
        if f.shape[1] != hi - lo:
            raise CrossspecError(f"DomainFiLM level {level}: expected {hi - lo} channels, got {f.shape[1]}")
        g = self.gamma[domain, lo:hi].to(f.dtype)[:, :, None, None]
        b = self.beta[domain, lo:hi].to(f.dtype)[:, :, None, None]
        return f * (1 + g) + b
