"""Colour conversions between RGB and the spaces crossspec trains and scores in.

All functions take and return float tensors of shape ``(..., 3, H, W)`` (or ``(..., 1, H, W)`` for
luminance) with RGB in ``[0, 1]``. Conversions are differentiable (kornia underneath) so they can
sit inside losses.
"""
from __future__ import annotations

import math

import torch

# ITU-R BT.601 luma weights: the Y of YCbCr that JPEG, OpenCV's cvtColor and most colorization
# papers use to derive a gray image from RGB.
LUMA_BT601 = (0.299, 0.587, 0.114)


def _kornia_color():
    # Imported on first use: kornia takes ~0.4 s to import, and most callers of this module (the
    # baselines behind `colorize --model nir-gain`) only need gray_to_rgb.
    import kornia.color

    return kornia.color


def _check_rgb(x: torch.Tensor, name: str = "image") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} must have shape (..., 3, H, W), got {tuple(x.shape)}")


def rgb_to_luminance(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luminance. ``(..., 3, H, W)`` in [0, 1] -> ``(..., 1, H, W)`` in [0, 1]."""
    _check_rgb(rgb, "rgb")
    w = rgb.new_tensor(LUMA_BT601).view(3, 1, 1)
    return (rgb * w).sum(dim=-3, keepdim=True)


def with_luminance(rgb: torch.Tensor, luma: torch.Tensor) -> torch.Tensor:
    """``rgb`` shifted equally in its three channels so that its BT.601 luminance is ``luma``, then
    clamped to [0, 1]: keeps a colorizer's chroma and the gray input's exact lightness.
    ``(B, 3, H, W)`` and ``(B, 1, H, W)`` in [0, 1] -> ``(B, 3, H, W)`` in [0, 1]."""
    return (rgb + (luma - rgb_to_luminance(rgb))).clamp(0, 1)


def gray_to_rgb(gray: torch.Tensor) -> torch.Tensor:
    """Replicate one channel three times. ``(..., 1, H, W)`` -> ``(..., 3, H, W)``."""
    if gray.dim() < 3 or gray.shape[-3] != 1:
        raise ValueError(f"gray must have shape (..., 1, H, W), got {tuple(gray.shape)}")
    return gray.expand(*gray.shape[:-3], 3, *gray.shape[-2:])


def rgb_to_hsv(rgb: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """RGB -> HSV with every channel in [0, 1] (hue as a fraction of a turn).

    ``(..., 3, H, W)`` in [0, 1] -> ``(..., 3, H, W)`` in [0, 1].
    """
    _check_rgb(rgb, "rgb")
    hsv = _kornia_color().rgb_to_hsv(rgb, eps=eps)
    h = hsv[..., 0:1, :, :] / (2 * math.pi)
    return torch.cat([h, hsv[..., 1:, :, :]], dim=-3)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """HSV with channels in [0, 1] -> RGB in [0, 1]. Shapes ``(..., 3, H, W)``."""
    _check_rgb(hsv, "hsv")
    h = hsv[..., 0:1, :, :] * (2 * math.pi)
    return _kornia_color().hsv_to_rgb(torch.cat([h, hsv[..., 1:, :, :]], dim=-3))


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] -> CIE L*a*b* (L in [0, 100], a/b roughly in [-128, 127]). ``(..., 3, H, W)``."""
    _check_rgb(rgb, "rgb")
    return _kornia_color().rgb_to_lab(rgb)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* -> sRGB clipped to [0, 1]. ``(..., 3, H, W)``."""
    _check_rgb(lab, "lab")
    return _kornia_color().lab_to_rgb(lab, clip=True)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> YCbCr (BT.601, full range; Y in [0, 1], Cb/Cr centred on 0.5)."""
    _check_rgb(rgb, "rgb")
    return _kornia_color().rgb_to_ycbcr(rgb)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    _check_rgb(ycbcr, "ycbcr")
    return _kornia_color().ycbcr_to_rgb(ycbcr)


# Lab scaled so that every channel lies in [0, 1], the range of a sigmoid output: L / 100 and
# a, b mapped from [-AB_RANGE, AB_RANGE]. sRGB's a*/b* stay inside about [-110, 128] under D65.
AB_RANGE = 128.0


def lab_to_unit(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* -> ``(L / 100, a / 256 + 0.5, b / 256 + 0.5)``, each in [0, 1]. ``(..., 3, H, W)``."""
    _check_rgb(lab, "lab")
    return torch.cat([lab[..., :1, :, :] / 100.0, lab[..., 1:, :, :] / (2 * AB_RANGE) + 0.5], dim=-3)


def unit_to_lab(unit: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`lab_to_unit`. ``(..., 3, H, W)`` in [0, 1] -> L* in [0, 100], a*/b* in [-128, 128]."""
    _check_rgb(unit, "unit lab")
    return torch.cat([unit[..., :1, :, :] * 100.0, (unit[..., 1:, :, :] - 0.5) * (2 * AB_RANGE)], dim=-3)


def gray_lightness(gray: torch.Tensor) -> torch.Tensor:
    """L* of the neutral colour ``(v, v, v)`` for each gray value ``v``: the Lab lightness a gray
    image has when converted as an RGB image. ``(..., 1, H, W)`` in [0, 1] -> ``(..., 1, H, W)`` in [0, 100]."""
    if gray.dim() < 3 or gray.shape[-3] != 1:
        raise ValueError(f"gray must have shape (..., 1, H, W), got {tuple(gray.shape)}")
    return _kornia_color().rgb_to_lab(gray_to_rgb(gray).contiguous())[..., :1, :, :]


def rgb_to_yuv(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> YUV (BT.601 analogue: Y in [0, 1] equals :func:`rgb_to_luminance`,
    U in [-0.436, 0.436], V in [-0.615, 0.615]). ``(..., 3, H, W)``."""
    _check_rgb(rgb, "rgb")
    return _kornia_color().rgb_to_yuv(rgb)


def yuv_to_rgb(yuv: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_yuv` (not clipped: YUV triples outside the RGB cube give values
    outside [0, 1]). ``(..., 3, H, W)``."""
    _check_rgb(yuv, "yuv")
    return _kornia_color().yuv_to_rgb(yuv)
