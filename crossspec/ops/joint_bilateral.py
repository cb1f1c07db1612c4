"""Joint (cross) bilateral filter: smooth an image with weights taken from another one.

Each output pixel ``p`` is the weighted mean of the source over a ``(2r+1) x (2r+1)`` window::

    out[p] = sum_q w(p, q) src[q] / sum_q w(p, q)
    w(p, q) = exp(-|p - q|^2 / (2 sigma_space^2)) * exp(-||guide[p] - guide[q]||^2 / (2 sigma_range^2))

where ``q`` runs over the window positions that lie inside the image (no padding values enter the
mean). The guide's edges stop the smoothing: Cheng et al. (2015) use it to clean per-pixel colour
predictions along the luminance edges of the input.

The window is visited one offset at a time, so memory stays at a few copies of the image whatever
the radius (an unfold would hold ``(2r+1)^2`` copies); every step is a plain tensor operation, so
the filter is differentiable in the source and in the guide.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def default_radius(sigma_space: float) -> int:
    """Window radius used when none is given: ``ceil(2 * sigma_space)`` (the spatial weight at the
    window's edge is ``exp(-2)``, about 0.14 of the centre's)."""
    return max(1, math.ceil(2.0 * sigma_space))


def joint_bilateral_filter(src: torch.Tensor, guide: torch.Tensor, sigma_space: float, sigma_range: float,
                           radius: int | None = None) -> torch.Tensor:
    """Filter ``src`` with spatial and range weights, the range measured on ``guide``.

    Args:
        src: ``(B, C, H, W)`` float, any range (e.g. chroma).
        guide: ``(B, Cg, H, W)`` float on the same grid; the range distance is the Euclidean
            distance over its ``Cg`` channels (e.g. a luminance in [0, 1], ``Cg = 1``).
        sigma_space: spatial standard deviation in pixels (> 0).
        sigma_range: range standard deviation in the guide's units (> 0).
        radius: window radius in pixels (>= 0); ``None`` gives :func:`default_radius`.

    Returns:
        ``(B, C, H, W)``, same dtype as ``src``. ``radius=0`` returns ``src`` unchanged.
    """
    if src.dim() != 4 or guide.dim() != 4:
        raise ValueError(f"joint_bilateral_filter: src and guide must be (B, C, H, W), got {tuple(src.shape)} "
                         f"and {tuple(guide.shape)}")
    if src.shape[0] != guide.shape[0] or src.shape[-2:] != guide.shape[-2:]:
        raise ValueError(f"joint_bilateral_filter: src {tuple(src.shape)} and guide {tuple(guide.shape)} differ in "
                         "batch or spatial size")
    if not (sigma_space > 0 and sigma_range > 0):
        raise ValueError(f"joint_bilateral_filter: sigma_space and sigma_range must be > 0, got {sigma_space} "
                         f"and {sigma_range}")
    r = default_radius(sigma_space) if radius is None else int(radius)
    if r < 0:
        raise ValueError(f"joint_bilateral_filter: radius must be >= 0, got {radius}")
    if r == 0:
        return src
    h, w = src.shape[-2:]
    guide = guide.to(src.dtype)
    # Zero padding plus a validity plane: outside positions get weight 0 instead of a made-up value.
    pad = (r, r, r, r)
    src_p = F.pad(src, pad)
    guide_p = F.pad(guide, pad)
    valid_p = F.pad(torch.ones_like(guide[:, :1]), pad)
    inv_s = 1.0 / (2.0 * sigma_space * sigma_space)
    inv_r = 1.0 / (2.0 * sigma_range * sigma_range)
    num = torch.zeros_like(src)
    den = torch.zeros_like(guide[:, :1])
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            sl = (..., slice(r + dy, r + dy + h), slice(r + dx, r + dx + w))
            dist2 = (guide_p[sl] - guide).pow(2).sum(dim=1, keepdim=True)
            wgt = torch.exp(-(dy * dy + dx * dx) * inv_s - dist2 * inv_r) * valid_p[sl]
            num = num + wgt * src_p[sl]
            den = den + wgt
    # The centre always counts with weight 1, so den >= 1 and the division is safe.
    return num / den
