"""Metrics over the valid pixels of one image (rasters with nodata), for ``crossspec eval --rasters``.

With ``valid`` all True every value equals the full-image metric of :mod:`crossspec.metrics`.

- PSNR: ``10 log10(1 / MSE)``, MSE over the valid pixels and the three channels.
- SSIM: the variant's SSIM map (scikit-image variant: 7x7 uniform window, sample covariance),
  computed on the whole image with invalid pixels set to 0 in both images, then averaged over
  the window positions whose whole window lies on valid pixels (so no invalid pixel, and not the
  fill value, enters any averaged term); positions within 3 px of the image border are left out
  exactly as scikit-image crops them. NaN when no window is wholly valid.
- AE: mean angle between RGB vectors over the valid pixels.
- CF / dCF: Hasler-Suesstrunk colourfulness of the valid pixels of the prediction, and its absolute
  difference to that of the target's valid pixels.
"""
from __future__ import annotations

import math

import torch

from crossspec.metrics._checks import MetricInputError
from crossspec.metrics.angular import NORM_EPS
from crossspec.metrics.colorfulness import hasler_susstrunk
from crossspec.metrics.ssim import (GAUSSIAN_RADIUS, K1, K2, UNIFORM_SIZE, _gaussian_kernel, _valid_filter,
                                    check_variant)

MASKED_SSIM_VARIANTS = ("skimage", "gaussian")


def _check(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
    if pred.shape != target.shape or pred.dim() != 3 or pred.shape[0] != 3:
        raise MetricInputError(f"masked metrics: expected pred and target (3, H, W), got {tuple(pred.shape)} "
                               f"and {tuple(target.shape)}")
    if tuple(valid.shape) != tuple(pred.shape[1:]):
        raise MetricInputError(f"masked metrics: valid mask {tuple(valid.shape)} does not match image {tuple(pred.shape[1:])}")
    return pred.double(), target.double(), valid.bool()


def masked_ssim(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, variant: str = "skimage") -> float:
    """SSIM of ``(3, H, W)`` images in [0, 1] over wholly valid windows (see the module docstring)."""
    check_variant(variant)
    if variant not in MASKED_SSIM_VARIANTS:
        raise MetricInputError(f"masked SSIM: variant {variant!r} is not available on masked images; "
                               f"use one of {', '.join(MASKED_SSIM_VARIANTS)}")
    p, t, v = _check(pred, target, valid)
    size = UNIFORM_SIZE if variant == "skimage" else 2 * GAUSSIAN_RADIUS + 1
    if min(p.shape[1:]) < size:
        return math.nan
    p, t = p * v, t * v
    if variant == "skimage":
        kernel, cov_norm = None, UNIFORM_SIZE**2 / (UNIFORM_SIZE**2 - 1)
    else:
        kernel, cov_norm = _gaussian_kernel(p.dtype, p.device), 1.0
    moments = _valid_filter(torch.cat([t, p, t * t, p * p, t * p]), kernel)
    ux, uy, uxx, uyy, uxy = moments.chunk(5)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = K1**2, K2**2
    smap = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))  # (3, h', w')
    # a window is usable when all its pixels are valid: a box count of invalid pixels is 0
    bad = _valid_filter((~v).double()[None], None if variant == "skimage" else torch.ones(size, dtype=p.dtype))[0]
    ok = bad <= 1e-9
    if not bool(ok.any()):
        return math.nan
    return float(smap[:, ok].mean())


def masked_scores(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                  ssim_variant: str = "skimage") -> dict[str, float]:
    """``{"psnr", "ssim", "ae", "cf", "dcf", "valid_fraction"}`` of one ``(3, H, W)`` prediction
    against its target on the pixels where ``valid`` ``(H, W)`` is true. Raises when none is valid."""
    p, t, v = _check(pred, target, valid)
    n = int(v.sum())
    if n == 0:
        raise MetricInputError("masked metrics: the image has no valid pixel")
    pv, tv = p[:, v], t[:, v]  # (3, n)
    mse = float((pv - tv).pow(2).mean())
    dot = (pv * tv).sum(0)
    norms = torch.linalg.vector_norm(pv, dim=0) * torch.linalg.vector_norm(tv, dim=0)
    ae = float(torch.rad2deg(torch.arccos((dot / (norms + NORM_EPS)).clamp(-1, 1))).mean())
    cf_p, cf_t = (float(hasler_susstrunk(c[None, :, :, None])[0]) for c in (pv, tv))
    return {"psnr": 10 * math.log10(1.0 / mse) if mse > 0 else math.inf,
            "ssim": masked_ssim(p, t, v, ssim_variant), "ae": ae, "cf": cf_p, "dcf": abs(cf_p - cf_t),
            "valid_fraction": n / v.numel()}


__all__ = ["MASKED_SSIM_VARIANTS", "masked_scores", "masked_ssim"]
