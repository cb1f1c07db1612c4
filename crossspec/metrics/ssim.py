"""Structural similarity (SSIM) and its multi-scale form, batched and differentiable.

Papers report "SSIM" computed several ways that differ by up to 0.07 on the same images, so every
variant here has a stable name (`SSIM_VARIANTS`) that reports must quote. All variants use only
the *valid* region: a window is never placed partly outside the image, which is what scikit-image
keeps after cropping ``(win - 1) // 2`` pixels at each border; no padding mode is involved.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from crossspec.metrics._checks import MetricInputError, check_pair, compute_dtype

SSIM_VARIANTS: dict[str, str] = {
    "skimage": "scikit-image structural_similarity defaults: 7x7 uniform window, sample covariance, "
    "K=(0.01, 0.03), mean over the valid region (the VCIP 2020 protocol)",
    "gaussian": "Wang et al. 2004: 11x11 Gaussian window (sigma 1.5), population covariance, "
    "K=(0.01, 0.03), mean over the valid region",
    "ms-ssim": "multi-scale SSIM (Wang et al. 2003): 11x11 Gaussian (sigma 1.5), 5 scales weighted "
    "(0.0448, 0.2856, 0.3001, 0.2363, 0.1333); fewer scales below 176 px",
}

K1, K2 = 0.01, 0.03
GAUSSIAN_SIGMA = 1.5
# Radius of scipy's Gaussian filter with truncate=3.5, which scikit-image uses so that sigma 1.5
# gives the 11-tap window of Wang et al.: int(3.5 * 1.5 + 0.5) = 5.
GAUSSIAN_RADIUS = 5
UNIFORM_SIZE = 7
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
# Contrast-structure terms can be slightly negative for anti-correlated patches; a fractional power
# of a negative number is NaN, so they are clamped here (as common MS-SSIM implementations clamp at 0;
# a small positive floor also keeps the power's gradient finite).
MS_SSIM_FLOOR = 1e-8


def _unknown_variant(variant: object) -> MetricInputError:
    names = ", ".join(repr(n) for n in SSIM_VARIANTS)
    return MetricInputError(f"ssim: unknown variant {variant!r}; choose one of {names}")


def check_variant(variant: str) -> str:
    """Return ``variant`` if it names an SSIM variant, else raise a ValueError listing the names."""
    if variant not in SSIM_VARIANTS:
        raise _unknown_variant(variant)
    return variant


def _gaussian_kernel(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    x = torch.arange(-GAUSSIAN_RADIUS, GAUSSIAN_RADIUS + 1, dtype=dtype, device=device)
    k = torch.exp(-0.5 * (x / GAUSSIAN_SIGMA) ** 2)
    return k / k.sum()


def _valid_filter(t: torch.Tensor, kernel: torch.Tensor | None) -> torch.Tensor:
    """Separable filter without padding: ``(N, H, W)`` -> ``(N, H - k + 1, W - k + 1)``.

    ``kernel`` is a 1-D window, or None for the 7-tap uniform window (computed with average pooling,
    which is several times faster than a convolution on the CPU, notably in float64).
    """
    t = t.unsqueeze(1)
    if kernel is None:
        t = F.avg_pool2d(t, (UNIFORM_SIZE, 1), stride=1)
        t = F.avg_pool2d(t, (1, UNIFORM_SIZE), stride=1)
    else:
        k = kernel.numel()
        t = F.conv2d(t, kernel.view(1, 1, k, 1))
        t = F.conv2d(t, kernel.view(1, 1, 1, k))
    return t.squeeze(1)


def _ssim_terms(
    x: torch.Tensor, y: torch.Tensor, kernel: torch.Tensor | None, cov_norm: float, data_range: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean SSIM and mean contrast-structure term over the valid region.

    Args:
        x, y: ``(B, C, H, W)`` in the computation dtype.
        kernel: 1-D window for `_valid_filter` (None: 7-tap uniform).
    Returns:
        ``(ssim, cs)``, each ``(B, C)``.
    """
    b, c, h, w = x.shape
    x = x.reshape(b * c, h, w)
    y = y.reshape(b * c, h, w)
    # One filtering pass over the five local moments instead of five.
    moments = _valid_filter(torch.cat([x, y, x * x, y * y, x * y]), kernel)
    ux, uy, uxx, uyy, uxy = moments.chunk(5)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    cs_map = (2 * vxy + c2) / (vx + vy + c2)
    ssim_map = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1) * cs_map
    ssim_mean = ssim_map.reshape(b, c, -1).mean(dim=2)
    cs_mean = cs_map.reshape(b, c, -1).mean(dim=2)
    return ssim_mean, cs_mean


def ms_ssim_scales(height: int, width: int, max_scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """Number of MS-SSIM scales used for an ``height x width`` image.

    Each scale halves the image (2x2 mean, odd last row/column dropped) and needs at least the
    11-pixel window, so 5 scales need sides of 176 px; smaller images use as many as fit (at least 1).
    """
    side = min(height, width)
    scales = 1
    while scales < max_scales and side // 2**scales >= 2 * GAUSSIAN_RADIUS + 1:
        scales += 1
    return scales


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    variant: str = "skimage",
    *,
    data_range: float = 1.0,
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    """SSIM of each image against its target, channels averaged.

    The default variant equals ``skimage.metrics.structural_similarity(gt, pred, data_range=1,
    channel_axis=-1)`` (scikit-image 0.26); ``"gaussian"`` equals the same call with
    ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``; ``"ms-ssim"`` is `ms_ssim`.
    See `SSIM_VARIANTS`.

    Args:
        pred, target: ``(B, C, H, W)`` float tensors in ``[0, data_range]``; ``H, W >= 7`` for
            "skimage", ``>= 11`` for the Gaussian variants.
        variant: a key of `SSIM_VARIANTS`.
        data_range: value range of the images (sets the stabilising constants).
        dtype: computation dtype (float64 by default, for values that match references to 1e-6;
            None keeps the inputs' dtype, which is faster on a GPU inside a training loop).

    Returns:
        ``(B,)`` tensor of ``dtype``, at most 1 (1 for identical images). Differentiable.
    """
    check_variant(variant)
    if variant == "ms-ssim":
        return ms_ssim(pred, target, data_range=data_range, dtype=dtype)
    if not data_range > 0:
        raise MetricInputError(f"ssim: data_range must be positive, got {data_range}")
    size = UNIFORM_SIZE if variant == "skimage" else 2 * GAUSSIAN_RADIUS + 1
    pred, target = check_pair(f"ssim ({variant})", pred, target, channels=None, data_range=data_range, min_size=size)
    dt = compute_dtype(dtype, pred, target)
    if variant == "skimage":
        kernel = None
        # scikit-image's default: unbiased (N - 1) local covariances over the N = 49 window pixels.
        cov_norm = UNIFORM_SIZE**2 / (UNIFORM_SIZE**2 - 1)
    else:
        kernel = _gaussian_kernel(dt, pred.device)
        cov_norm = 1.0
    value, _ = _ssim_terms(target.to(dt), pred.to(dt), kernel, cov_norm, data_range)
    return value.mean(dim=1)


def ms_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    max_scales: int = len(MS_SSIM_WEIGHTS),
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli, Bovik 2003), per image, channels averaged.

    At scales ``j = 1..M`` (each a 2x2-mean downsampling of the previous) the mean contrast-structure
    term ``cs_j`` is taken with the 11x11 Gaussian window (sigma 1.5, population covariance,
    K=(0.01, 0.03), valid region); the result is ``prod_{j<M} cs_j**w_j * ssim_M**w_M`` per channel,
    with the standard weights `MS_SSIM_WEIGHTS`. Images smaller than 176 px use fewer scales
    (`ms_ssim_scales`), with the first ``M`` weights rescaled to sum to 1; with one scale the result
    is the "gaussian" SSIM. Terms are floored at 1e-8 before the power (see `MS_SSIM_FLOOR`).

    Args:
        pred, target: ``(B, C, H, W)`` float tensors in ``[0, data_range]``, ``H, W >= 11``.
        max_scales: at most this many scales (1 to 5).
        dtype: computation dtype (float64 by default; None keeps the inputs' dtype).

    Returns:
        ``(B,)`` tensor in ``(0, 1]``; 1 for identical images. Differentiable: ``1 - ms_ssim`` is a loss.
    """
    if not 1 <= max_scales <= len(MS_SSIM_WEIGHTS):
        raise MetricInputError(f"ms_ssim: max_scales must be 1 to {len(MS_SSIM_WEIGHTS)}, got {max_scales}")
    if not data_range > 0:
        raise MetricInputError(f"ms_ssim: data_range must be positive, got {data_range}")
    pred, target = check_pair(
        "ms_ssim", pred, target, channels=None, data_range=data_range, min_size=2 * GAUSSIAN_RADIUS + 1
    )
    dt = compute_dtype(dtype, pred, target)
    scales = ms_ssim_scales(pred.shape[2], pred.shape[3], max_scales)
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=dt, device=pred.device)
    weights = weights / weights.sum()
    kernel = _gaussian_kernel(dt, pred.device)
    x, y = target.to(dt), pred.to(dt)
    log_total = torch.zeros(pred.shape[:2], dtype=dt, device=pred.device)
    for j in range(scales):
        value, cs = _ssim_terms(x, y, kernel, 1.0, data_range)
        term = value if j == scales - 1 else cs
        # Sum of w*log(term) is the weighted product, without underflow for many channels.
        log_total = log_total + weights[j] * torch.log(term.clamp_min(MS_SSIM_FLOOR))
        if j < scales - 1:
            x = F.avg_pool2d(x, kernel_size=2)
            y = F.avg_pool2d(y, kernel_size=2)
    return torch.exp(log_total).mean(dim=1)


__all__ = ["SSIM_VARIANTS", "MS_SSIM_WEIGHTS", "check_variant", "ms_ssim", "ms_ssim_scales", "ssim"]
