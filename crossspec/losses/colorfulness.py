"""DDColor's colourfulness loss (Kang et al., ICCV 2023): reward colourful predictions.

The paper defines ``L_col = 1 - (sigma_rgyb + 0.3 * mu_rgyb) / 100``, the Hasler-Süsstrunk
colourfulness ``M`` (0-255 channel scale, where ``M`` is typically 0-110) of the prediction,
divided by 100 and subtracted from 1. It compares nothing with the target: it only pushes the
opponent-colour spread and mean of each predicted image up, against the desaturation that
pixel losses cause in an ambiguous problem. DDColor weights it 0.5 beside L1 (0.1), a VGG
perceptual loss (5.0) and a GAN loss (1.0).

Differences from DDColor's released training code, kept here on purpose: that code takes
``|R - G|`` and ``|(R + G)/2 - B|`` (not the signed opponents of the colourfulness paper), a
sample standard deviation, RGB in [0, 1] without the ``/ 100`` and sums over the batch; here the
formula is the paper's, on the signed opponents, shared with the CF metric
(:func:`crossspec.metrics.colorfulness.hasler_susstrunk`), and averaged over the batch so its
weight does not depend on the batch size.

Weighting: for a typical pixel (one standard deviation from its image's mean chroma) the
gradient of ``M / 100`` per channel value is about ``2.55 / N`` (N pixels), against ``1 / (3N)``
for an L1 term of weight 1 on RGB: about 7.6 times stronger per unit weight. Below a weight of
about 0.13 beside ``l1: 1`` the push on such a pixel is weaker than L1's constant pull, so it
moves uncertain pixels to a more colourful choice without pulling a well-predicted pixel off
its target. The loss is unbounded below (an ``M`` over 100 gives a negative value).
"""
from __future__ import annotations

import torch

from crossspec.metrics.colorfulness import hasler_susstrunk

# Floor under the square roots (0-255 units squared): far below any visible colour, and it turns
# the NaN gradient of an exactly gray image into 0.
_EPS = 1e-6


def colorfulness_loss(rgb: torch.Tensor, mask: torch.Tensor | None = None, scale: float = 100.0) -> torch.Tensor:
    """``mean over images of 1 - M(rgb) / scale``; lower is more colourful.

    Args:
        rgb: ``(B, 3, H, W)`` prediction in [0, 1].
        mask: optional ``(B, 1, H, W)``, 1 = valid pixel: ``M`` is computed over each image's
            valid pixels only (invalid pixels get no gradient), and images without a valid pixel
            are left out of the mean (0 when none has one).
        scale: the paper's 100.

    Returns:
        scalar tensor, at most 1 (a gray image), unbounded below.
    """
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"colorfulness loss: expected rgb (B, 3, H, W), got {tuple(rgb.shape)}")
    if mask is not None and (mask.dim() != 4 or mask.shape[1] != 1 or mask.shape[0] != rgb.shape[0]
                             or mask.shape[-2:] != rgb.shape[-2:]):
        raise ValueError(f"colorfulness loss: mask {tuple(mask.shape)} does not match rgb "
                         f"{tuple(rgb.shape)}; expected (B, 1, H, W)")
    per_image = 1.0 - hasler_susstrunk(rgb, mask, eps=_EPS) / scale
    if mask is None:
        return per_image.mean()
    has = (mask.flatten(1) > 0).any(dim=1).to(per_image.dtype)
    return (per_image * has).sum() / has.sum().clamp_min(1.0)
