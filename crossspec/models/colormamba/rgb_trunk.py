"""ColorMamba's RGB branch on an ImageNet VGG16 trunk (``ColorMamba(rgb_encoder="vgg16")``).

The paper's RGB branch encodes the NIR image with its own stride-2 4x4 convolutions, level ``k``
(scale 1/2**k, ``k = 1 .. rgb_levels - 1``) having ``ch[k] = rgb_width * min(2**(k-1), max_mult)``
channels, a VSSB after the convolution at the Mamba levels and an InstanceNorm after it (none at
level 1). With ``rgb_encoder="vgg16"`` the first ``S - 1`` of those levels (``S =
rgb_encoder_stages``, 2..5) are taken from the :class:`~crossspec.models.encoders.VGG16Trunk`
stages of the same scale instead:

===============  =======================  ==========================================
scale            paper RGB encoder        with ``rgb_encoder="vgg16"`` (S = 5)
===============  =======================  ==========================================
1                (input)                  relu1_2: computed on the way, not a skip
1/2  (level 1)   4x4 conv s2              relu2_2 -> TrunkLevel -> ch[1]
1/4  (level 2)   4x4 conv s2 -> IN        relu3_3 -> TrunkLevel -> ch[2]
1/8  (level 3)   4x4 conv s2 -> IN        relu4_3 -> TrunkLevel -> ch[3]
1/16 (level 4)   4x4 conv s2 -> IN        relu5_3 -> TrunkLevel -> ch[4]
1/32 and deeper  4x4 conv s2 -> IN        unchanged, fed from level 4
===============  =======================  ==========================================

A :class:`TrunkLevel` is a 1x1 convolution to ``ch[k]`` (only where the channel counts differ),
the level's VSSB when ``k`` is a Mamba level (as in the paper's branch), and a non-affine
InstanceNorm: VGG activations are unnormalised ReLU outputs whose scale differs by orders of
magnitude between stages, and every skip the decoder concatenates then has the statistics the
paper's normalised levels have (the paper's level 1 is not normalised; a VGG one is).

Unchanged: the widths of every level (so the decoder, its dense skips, the SPADE HSV guidance,
the innermost block, the criss-cross fusion and the HSV branch are built exactly as before), the
skips the decoder reads (now VGG features at the same scales), and the per-domain FiLM of the
encoder levels. What changes: the encoder sees the NIR replicated to RGB with ImageNet
normalisation, and its first levels start from ImageNet features (loaded by the trainer through
``model.encoder_weights``), frozen by default (``rgb_frozen_stages``). The full-resolution stage
relu1_2 feeds no skip because the paper's decoder has none at full resolution.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from crossspec.errors import CrossspecError
from crossspec.models.colormamba.norm import InstanceNorm2d
from crossspec.models.colormamba.vssb import VSSB
from crossspec.models.encoders import VGG16Trunk

RGB_ENCODERS = ("conv", "vgg16")


class TrunkLevel(nn.Module):
    """A trunk stage as an RGB-encoder level: [1x1 conv] -> [VSSB] -> InstanceNorm.

    ``forward``: ``(B, cin, h, w)`` (ReLU features, any scale) -> ``(B, cout, h, w)``, zero mean and
    unit variance per image and channel.
    """

    def __init__(self, cin: int, cout: int, vssb: VSSB | None) -> None:
        super().__init__()
        # no bias where the non-affine InstanceNorm follows directly (it would cancel it)
        self.proj = nn.Conv2d(cin, cout, 1, bias=vssb is not None) if cin != cout else None
        self.vssb = vssb
        self.norm = InstanceNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.proj is not None:
            x = self.proj(x)
        if self.vssb is not None:
            x = self.vssb(x)
        return self.norm(x)


def build_rgb_trunk(rgb_encoder: str, stages: int | None, frozen_stages: int | None,
                    rgb_levels: int) -> VGG16Trunk | None:
    """The pretrained trunk ``rgb_encoder`` names (``None`` for ``"conv"``, the paper's encoder).

    ``stages`` (default 5: relu1_2 .. relu5_3) must leave the branch at least its innermost
    level (``stages <= rgb_levels``); ``frozen_stages`` defaults to all of them.
    """
    if rgb_encoder not in RGB_ENCODERS:
        raise CrossspecError(f"colormamba: rgb_encoder must be one of {', '.join(RGB_ENCODERS)}, got {rgb_encoder!r}")
    if rgb_encoder == "conv":
        given = [k for k, v in (("rgb_encoder_stages", stages), ("rgb_frozen_stages", frozen_stages)) if v is not None]
        if given:
            raise CrossspecError(f"colormamba: {', '.join(given)} only apply with rgb_encoder='vgg16'")
        return None
    stages = 5 if stages is None else int(stages)
    if not 2 <= stages <= min(5, rgb_levels):
        raise CrossspecError(f"colormamba: rgb_encoder_stages must be in 2..{min(5, rgb_levels)} "
                             f"(VGG16 has 5 stages; rgb_levels={rgb_levels}), got {stages}")
    frozen_stages = stages if frozen_stages is None else int(frozen_stages)
    if not 0 <= frozen_stages <= stages:
        raise CrossspecError(f"colormamba: rgb_frozen_stages must be in 0..{stages}, got {frozen_stages}")
    return VGG16Trunk(stages=stages, frozen_stages=frozen_stages)
