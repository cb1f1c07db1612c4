"""Rebalanced multinomial cross-entropy over the quantized ab gamut (Zhang, Isola & Efros 2016, eq. 2).

``L = mean over pixels of  v(Z) * -sum_q Z_q log softmax(logits)_q``, where ``Z`` is the target ab
soft-encoded onto its 5 nearest bins (Gaussian kernel, sigma 5) and ``v(Z) = w[q*]`` the
rebalancing weight of the bin ``q*`` nearest the target (the largest entry of ``Z``). The mean is
over pixels, not the paper's sum, so the value does not grow with the crop; with weights whose mean
under the training prior is 1 it keeps the scale of the unweighted loss.

The logits are at the network's reduced resolution; the target ab map is area-averaged to it
(``adaptive_avg_pool2d``), which for sides that are a multiple of the stride is the plain mean of
each stride x stride cell.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from crossspec.ops.ab_gamut import NEIGHBOURS, SIGMA, soft_encode


def ab_cross_entropy(logits: torch.Tensor, target_ab: torch.Tensor, centres: torch.Tensor,
                     weights: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                     neighbours: int = NEIGHBOURS, sigma: float = SIGMA) -> torch.Tensor:
    """Scalar rebalanced cross-entropy.

    Args:
        logits: ``(B, Q, h, w)`` unnormalised scores over the ``Q`` bins of ``centres``.
        target_ab: ``(B, 2, H, W)`` true ab in Lab units, ``H >= h``, ``W >= w`` (area-averaged to ``(h, w)``).
        centres: ``(Q, 2)`` ab bin centres (:func:`crossspec.ops.ab_gamut.gamut_centres`).
        weights: ``(Q,)`` per-bin rebalancing weights, ``None`` = all 1.
        mask: ``(B, 1, H, W)``, 1 = valid pixel; a low-resolution cell counts only when all of its
            pixels are valid (0 when no cell is).
    """
    if logits.dim() != 4 or logits.shape[1] != centres.shape[0]:
        raise ValueError(f"ab_ce: logits must be (B, {centres.shape[0]}, h, w) over the gamut's bins, "
                         f"got {tuple(logits.shape)}")
    if target_ab.dim() != 4 or target_ab.shape[:2] != (logits.shape[0], 2):
        raise ValueError(f"ab_ce: target ab must be ({logits.shape[0]}, 2, H, W), got {tuple(target_ab.shape)}")
    size = logits.shape[-2:]
    if target_ab.shape[-2] < size[0] or target_ab.shape[-1] < size[1]:
        raise ValueError(f"ab_ce: target {tuple(target_ab.shape[-2:])} is smaller than the logits {tuple(size)}")
    ab = F.adaptive_avg_pool2d(target_ab.float(), size) if target_ab.shape[-2:] != size else target_ab.float()
    z = soft_encode(ab, centres, neighbours=neighbours, sigma=sigma)
    ce = -(z * torch.log_softmax(logits.float(), dim=1)).sum(dim=1)  # (B, h, w)
    if weights is not None:
        if weights.shape != (centres.shape[0],):
            raise ValueError(f"ab_ce: weights must be ({centres.shape[0]},), got {tuple(weights.shape)}")
        ce = ce * weights.to(ce)[z.argmax(dim=1)]
    if mask is None:
        return ce.mean()
    if mask.shape != (target_ab.shape[0], 1, *target_ab.shape[-2:]):
        raise ValueError(f"ab_ce: mask must be {(target_ab.shape[0], 1, *target_ab.shape[-2:])}, got {tuple(mask.shape)}")
    valid = (F.adaptive_avg_pool2d(mask.to(ce.dtype), size) > 1.0 - 1e-6).to(ce.dtype)[:, 0]
    return (ce * valid).sum() / valid.sum().clamp_min(1.0)
