"""Tiny generated image pairs for the metric tests: smooth structure plus noise, like photos."""
from __future__ import annotations

import numpy as np
import torch


def image_pair(
    rng: np.random.Generator, h: int, w: int, c: int = 3, noise: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """``(gt, pred)`` as ``(H, W, C)`` float64 arrays in [0, 1]: a smooth scene and a noisy, tinted copy."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(3 * xx + k) * np.cos(2 * yy - k) for k in range(c)], axis=-1)
    gt = np.clip(0.5 + 0.35 * base + 0.1 * rng.standard_normal((h, w, c)), 0, 1)
    tint = rng.uniform(0.8, 1.1, size=c)
    pred = np.clip(gt * tint + noise * rng.standard_normal((h, w, c)), 0, 1)
    return gt, pred


def to_tensor(*arrays: np.ndarray) -> torch.Tensor:
    """Stack ``(H, W, C)`` arrays into a ``(B, C, H, W)`` float64 tensor."""
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
