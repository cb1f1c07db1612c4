"""Image-quality metrics for colorization, batched and per image.

Every metric takes ``(B, 3, H, W)`` float tensors in ``[0, 1]`` (PSNR and SSIM accept any channel
count) and returns a ``(B,)`` tensor, one value per image; evaluation averages them over images.
PSNR, SSIM, AE and colourfulness compute in float64 by default (``dtype=None`` keeps the input
dtype for use inside training). `METRICS` describes each metric for tables and reports;
`protocol_description` is the sentence a report quotes so its numbers can be compared.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from crossspec.metrics._checks import MetricInputError
from crossspec.metrics.angular import angular_error
from crossspec.metrics.colorfulness import colorfulness, delta_colorfulness
from crossspec.metrics.lpips import LPIPS, lpips_distance
from crossspec.metrics.psnr import psnr
from crossspec.metrics.ssim import MS_SSIM_WEIGHTS, SSIM_VARIANTS, check_variant, ms_ssim, ssim


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is, for tables and reports.

    ``compute(pred, target)`` takes ``(B, 3, H, W)`` tensors in [0, 1] and returns ``(B,)``.
    """

    name: str
    label: str
    unit: str
    higher_better: bool
    description: str
    compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _cf_of_pred(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return colorfulness(pred)


METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo("psnr", "PSNR", "dB", True, "10*log10(1/MSE) over all pixels and channels, data range 1",
                   psnr),
        MetricInfo("ssim", "SSIM", "", True, "SSIM, " + SSIM_VARIANTS["skimage"], ssim),
        MetricInfo("ae", "AE", "deg", False, "mean angle between predicted and true RGB vectors", angular_error),
        MetricInfo("lpips", "LPIPS", "", False, "LPIPS, AlexNet trunk, linear heads v0.1, inputs on [-1, 1]",
                   lpips_distance),
        MetricInfo("cf", "CF", "", True, "Hasler-Susstrunk colourfulness of the prediction (0-255 scale)",
                   _cf_of_pred),
        MetricInfo("dcf", "dCF", "", False, "|CF(pred) - CF(target)|, Hasler-Susstrunk colourfulness",
                   delta_colorfulness),
    )
}

_SSIM_PROTOCOL = {
    "skimage": "SSIM skimage (7x7 uniform, sample covariance, K=(0.01,0.03))",
    "gaussian": "SSIM gaussian (11x11 Gaussian sigma 1.5, population covariance, K=(0.01,0.03))",
    "ms-ssim": "SSIM ms-ssim (5 scales, 11x11 Gaussian sigma 1.5, K=(0.01,0.03))",
}


def protocol_description(ssim_variant: str = "skimage", *, lpips: bool = True) -> str:
    """One sentence naming how each metric is computed, to print next to every table of numbers.

    Args:
        ssim_variant: the SSIM variant used (a key of `SSIM_VARIANTS`).
        lpips: whether LPIPS was computed; when not, the sentence says so instead of describing it.
    Raises:
        ValueError (`MetricInputError`): for an unknown SSIM variant, listing the known ones.
    """
    check_variant(ssim_variant)
    lpips_part = "LPIPS alex v0.1 on [-1,1]" if lpips else "LPIPS not computed"
    return (
        f"PSNR on [0,1] (data range 1), {_SSIM_PROTOCOL[ssim_variant]}, AE in degrees, "
        f"{lpips_part}, CF Hasler-Susstrunk"
    )


__all__ = [
    "LPIPS",
    "METRICS",
    "MS_SSIM_WEIGHTS",
    "MetricInfo",
    "MetricInputError",
    "SSIM_VARIANTS",
    "angular_error",
    "colorfulness",
    "delta_colorfulness",
    "lpips_distance",
    "ms_ssim",
    "protocol_description",
    "psnr",
    "ssim",
]
