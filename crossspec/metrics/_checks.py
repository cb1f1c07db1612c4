"""Input validation shared by the metrics.

Every metric takes batched image tensors ``(B, C, H, W)``; a wrong shape, dtype or value range is
reported with one line that starts with the metric and argument name, e.g.
``"psnr: pred has shape (3, 8, 8); expected (B, C, H, W)"``.
"""
from __future__ import annotations

import torch

from crossspec.errors import CrossspecError

# Values this far outside [0, data_range] are still accepted: colour conversions and resampling
# produce round-off of this size, which must not turn an evaluation into an error.
RANGE_TOLERANCE = 1e-6


class MetricInputError(CrossspecError, ValueError):
    """A metric was given tensors of the wrong shape, dtype or value range.

    It is a `CrossspecError` (the CLI prints it on one line) and a `ValueError` (what Python code
    calling a numeric function expects to catch).
    """


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_images(
    metric: str,
    name: str,
    img: object,
    *,
    channels: int | None = 3,
    data_range: float = 1.0,
    min_size: int = 1,
) -> torch.Tensor:
    """Check one batch of images and return it unchanged.

    Args:
        metric: name of the calling metric, used as the message prefix.
        name: argument name (``"pred"``, ``"target"``, ``"img"``).
        img: expected ``(B, C, H, W)`` floating tensor with values in ``[0, data_range]``.
        channels: required ``C``, or None for any number of channels.
        data_range: upper end of the allowed value range.
        min_size: smallest allowed ``H`` and ``W``.
    """
    if not isinstance(img, torch.Tensor):
        raise MetricInputError(f"{metric}: {name} must be a torch.Tensor, got {type(img).__name__}")
    if img.dim() != 4:
        want = "(B, C, H, W)" if channels is None else f"(B, {channels}, H, W)"
        raise MetricInputError(f"{metric}: {name} has shape {_shape(img)}; expected {want}")
    if channels is not None and img.shape[1] != channels:
        raise MetricInputError(
            f"{metric}: {name} has {img.shape[1]} channels (shape {_shape(img)}); expected {channels}"
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise MetricInputError(f"{metric}: {name} is empty (shape {_shape(img)})")
    if img.shape[2] < min_size or img.shape[3] < min_size:
        raise MetricInputError(
            f"{metric}: {name} is {img.shape[2]}x{img.shape[3]} pixels; needs at least {min_size}x{min_size}"
        )
    if not img.is_floating_point():
        raise MetricInputError(
            f"{metric}: {name} has dtype {img.dtype}; expected floating point in [0, {data_range:g}]"
            " (divide 8-bit images by 255)"
        )
    values = img.detach()
    if not bool(torch.isfinite(values).all()):
        raise MetricInputError(f"{metric}: {name} contains NaN or infinite values")
    lo, hi = float(values.min()), float(values.max())
    tol = RANGE_TOLERANCE * data_range
    if lo < -tol or hi > data_range + tol:
        raise MetricInputError(
            f"{metric}: {name} has values in [{lo:.6g}, {hi:.6g}]; expected [0, {data_range:g}]"
        )
    return img


def check_pair(
    metric: str,
    pred: object,
    target: object,
    *,
    channels: int | None = 3,
    data_range: float = 1.0,
    min_size: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``pred`` and ``target`` with `check_images` and that their shapes and devices agree."""
    pred = check_images(metric, "pred", pred, channels=channels, data_range=data_range, min_size=min_size)
    target = check_images(metric, "target", target, channels=channels, data_range=data_range, min_size=min_size)
    if pred.shape != target.shape:
        raise MetricInputError(
            f"{metric}: pred has shape {_shape(pred)} but target has shape {_shape(target)}; they must match"
        )
    if pred.device != target.device:
        raise MetricInputError(f"{metric}: pred is on {pred.device} but target is on {target.device}")
    return pred, target


def compute_dtype(dtype: torch.dtype | None, *tensors: torch.Tensor) -> torch.dtype:
    """The dtype a metric computes in: ``dtype`` if given, else the promoted dtype of the inputs."""
    if dtype is not None:
        if not dtype.is_floating_point:
            raise MetricInputError(f"dtype must be a floating point dtype, got {dtype}")
        return dtype
    out = tensors[0].dtype
    for t in tensors[1:]:
        out = torch.promote_types(out, t.dtype)
    return out
