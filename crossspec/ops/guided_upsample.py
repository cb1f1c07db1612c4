"""Guided upsampling: bring a low-resolution prediction to full resolution along the edges of a guide.

The fast guided filter (He & Sun, "Fast Guided Filter", arXiv:1505.00996): at low resolution each
output channel is fitted, in every ``(2r+1)²`` window, as a linear function ``q = a * I + b`` of the
guide ``I``; the coefficients are box-averaged, upsampled bilinearly, and applied to the
full-resolution guide. Edges and fine texture of the guide pass to the output wherever the fit
says the output follows the guide (``a`` away from 0); where the guide varies only by less than
``sqrt(eps)`` (flat sky, JPEG blocks, sensor noise) ``a`` shrinks towards 0 and the output keeps the
smooth low-resolution prediction.

crossspec uses it to colorize a photograph at the scale a model was trained on
(``colorize --work-scale``) and still return every pixel of the input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """``(B, C, H, W)`` -> same shape: the mean over each ``(2r+1)²`` window, counting only the
    pixels inside the image (no zero padding pulled in at the border)."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def guided_upsample(low: torch.Tensor, guide_low: torch.Tensor, guide: torch.Tensor, radius: int = 2,
                    eps: float = 1e-3) -> torch.Tensor:
    """Upsample ``low`` to ``guide``'s size, following ``guide``'s edges.

    Args:
        low: ``(B, C, h, w)`` low-resolution prediction (any range, e.g. RGB in [0, 1]).
        guide_low: ``(B, 1, h, w)`` the guide at ``low``'s resolution (the input the prediction was
            made from).
        guide: ``(B, 1, H, W)`` the full-resolution guide, ``H >= h, W >= w``.
        radius: window radius at low resolution (pixels).
        eps: regulariser in the guide's squared units: variations of the guide well below
            ``sqrt(eps)`` are not transferred.

    Returns:
        ``(B, C, H, W)`` in ``low``'s dtype. Where ``low`` is exactly ``a * guide_low + b`` with
        constant ``a, b`` and ``eps -> 0``, the result is ``a * guide + b``.
    """
    if low.dim() != 4 or guide_low.dim() != 4 or guide.dim() != 4:
        raise ValueError(f"guided_upsample: expected 4-D tensors, got low {tuple(low.shape)}, guide_low "
                         f"{tuple(guide_low.shape)}, guide {tuple(guide.shape)}")
    if guide_low.shape[1] != 1 or guide.shape[1] != 1:
        raise ValueError(f"guided_upsample: guides must have one channel, got {guide_low.shape[1]} and {guide.shape[1]}")
    if guide_low.shape[0] != low.shape[0] or guide_low.shape[-2:] != low.shape[-2:] or guide.shape[0] != low.shape[0]:
        raise ValueError(f"guided_upsample: guide_low {tuple(guide_low.shape)} must match low {tuple(low.shape)} in "
                         f"batch and size, guide {tuple(guide.shape)} in batch")
    if guide.shape[-2] < low.shape[-2] or guide.shape[-1] < low.shape[-1]:
        raise ValueError(f"guided_upsample: guide {tuple(guide.shape[-2:])} is smaller than low {tuple(low.shape[-2:])}")
    if radius < 1 or eps <= 0:
        raise ValueError(f"guided_upsample: radius must be >= 1 and eps > 0, got {radius}, {eps}")
    work = torch.promote_types(low.dtype, torch.float32)  # half precision loses the variances
    p, i = low.to(work), guide_low.to(work)
    mean_i, mean_p = box_mean(i, radius), box_mean(p, radius)
    cov = box_mean(i * p, radius) - mean_i * mean_p
    var = box_mean(i * i, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    size = guide.shape[-2:]
    a = F.interpolate(box_mean(a, radius), size=size, mode="bilinear", align_corners=False)
    b = F.interpolate(box_mean(b, radius), size=size, mode="bilinear", align_corners=False)
    return (a * guide.to(work) + b).to(low.dtype)


def downscale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, round(H*scale), round(W*scale))`` (at least 1), antialiased
    bilinear, for ``0 < scale <= 1``."""
    if not 0 < scale <= 1:
        raise ValueError(f"downscale: scale must be in (0, 1], got {scale}")
    h, w = x.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size == (h, w):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
