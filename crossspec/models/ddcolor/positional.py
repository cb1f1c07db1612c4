"""2-D sine positional encoding of a feature map's pixel positions (as in DETR / Mask2Former).

Positions are normalised to the map's extent before the sines, so a location keeps its code
whatever the image size: the colour queries trained on 128-pixel crops read the same positional
code on a 256-pixel test image at the same relative place.
"""
from __future__ import annotations

import math

import torch


def sine_positions(height: int, width: int, dim: int, *, temperature: float = 10000.0,
                   device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(height * width, dim)`` codes in [-1, 1], row-major like ``x.flatten(2)``.

    Half of the channels code the row, half the column; each half is ``dim / 4`` frequencies
    ``temperature ** (-k / (dim / 4))`` with a sine and a cosine, of the position scaled to
    ``(0, 2 pi]`` (pixel centres: ``2 pi (i + 0.5) / size``).
    """
    if dim % 4 != 0 or dim <= 0:
        raise ValueError(f"sine positions need a positive dim divisible by 4, got {dim}")
    freqs = dim // 4
    omega = temperature ** (-torch.arange(freqs, device=device, dtype=torch.float64) / freqs)

    def code(n: int) -> torch.Tensor:  # (n, 2 * freqs)
        pos = (torch.arange(n, device=device, dtype=torch.float64) + 0.5) * (2 * math.pi / n)
        angle = pos[:, None] * omega[None]
        return torch.cat([angle.sin(), angle.cos()], dim=1)

    rows, cols = code(height), code(width)
    grid = torch.cat([rows[:, None].expand(-1, width, -1), cols[None].expand(height, -1, -1)], dim=2)
    return grid.reshape(height * width, dim).to(dtype)
