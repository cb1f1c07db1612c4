"""Padding inputs to the side multiple a network needs, and only that."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``(B, C, H, W)`` on the bottom/right up to multiples of ``multiple``.

    Mirror padding keeps image statistics at the border. It needs a pad smaller than the side, so
    large pads are applied as several reflections; a 1-pixel side is replicated. Returns the padded
    tensor and the original ``(H, W)`` to crop back to.
    """
    h, w = x.shape[-2:]
    th, tw = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    while x.shape[-2] < th or x.shape[-1] < tw:
        ph = min(th - x.shape[-2], x.shape[-2] - 1)
        pw = min(tw - x.shape[-1], x.shape[-1] - 1)
        if ph <= 0 and pw <= 0:
            return F.pad(x, (0, tw - x.shape[-1], 0, th - x.shape[-2]), mode="replicate"), (h, w)
        x = F.pad(x, (0, max(pw, 0), 0, max(ph, 0)), mode="reflect")
    return x, (h, w)
