"""U-Net colorizer on a pretrained ImageNet trunk: VGG16 encoder, light convolutional decoder.

The encoder is :class:`~crossspec.models.encoders.VGG16Trunk` (torchvision layout, loads ImageNet
weights unchanged). The decoder climbs from the deepest stage back to full resolution: at each
level it upsamples (bilinear, x2), concatenates the encoder stage of that scale (and at full
resolution the input itself), then applies two 3x3 convolutions with GroupNorm and ReLU. A 3x3
head and a sigmoid give RGB in [0, 1].

Pretrained weights are not read here (``models/`` reads no files): the trainer loads them through
:meth:`TrunkUNet.load_encoder` on a fresh run, and a trained checkpoint carries the whole network.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from crossspec.color import with_luminance
from crossspec.models.blocks import UpFuse
from crossspec.models.encoders import VGG16Trunk
from crossspec.models.encoders.vgg import check_cacheable_size
from crossspec.models.padding import pad_to_multiple
from crossspec.models.registry import register_model


class TrunkUNet(nn.Module):
    """Colorizer with an ImageNet VGG16 encoder.

    Args:
        stages: encoder stages used (1-5; 5 reaches relu5_3 at 1/16).
        frozen_stages: encoder stages kept frozen (0 = fine-tune all, ``stages`` = frozen trunk).
        widths: decoder widths from the deepest fused level to full resolution (``stages - 1``
            entries).
        luma_from_input: for gray input, which *is* the BT.601 luminance of the true colours: shift
            the three output channels equally so the output's luminance equals the input (then clamp
            to [0, 1]), keeping only the predicted chroma. No parameters; not for NIR input.
        input_residual: predict RGB as ``gain * input + residual`` (a learned gain per channel,
            starting at ``residual_gain``, and the head's output unbounded), so an untrained model
            starts at ``nir-gain`` and the input's fine detail passes straight through; training
            learns the colour. The output is clamped to [0, 1] in eval mode only, so that pixels
            outside the range still get a gradient while training.
        residual_gain: the starting gain of ``input_residual``.
        input_conv: how the one band enters the ImageNet trunk: ``"replicate"`` to three normalised
            channels, or ``"learned"``, a trained one-channel first convolution initialised to give
            the same features (:class:`~crossspec.models.encoders.VGG16Trunk`).

    ``forward``: ``(B, 1, H, W)`` in [0, 1] -> ``(B, 3, H, W)`` in [0, 1], any ``H, W`` (reflect
    padding to a multiple of ``2**(stages-1)``, cropped back).
    """

    def __init__(self, stages: int = 5, frozen_stages: int = 5, widths: tuple[int, ...] | list[int] = (256, 128, 64, 32),
                 luma_from_input: bool = False, input_residual: bool = False, residual_gain: float = 0.8,
                 input_conv: str = "replicate") -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != stages - 1:
            raise ValueError(f"widths needs {stages - 1} entries for {stages} stages, got {len(widths)}")
        self.encoder = VGG16Trunk(stages=stages, frozen_stages=frozen_stages, input_conv=input_conv)
        ch = self.encoder.channels
        self.fuses = nn.ModuleList()
        deep = ch[-1]
        for level, w in zip(range(stages - 2, -1, -1), widths):
            skip = ch[level] + (1 if level == 0 else 0)  # the input joins at full resolution
            self.fuses.append(UpFuse(deep + skip, w))
            deep = w
        self.head = nn.Conv2d(deep, 3, 3, padding=1)
        self.size_multiple = 2 ** (stages - 1)
        self.luma_from_input = bool(luma_from_input)
        if luma_from_input and input_residual:
            raise ValueError("luma_from_input and input_residual exclude each other")
        self.input_residual = bool(input_residual)
        if self.input_residual:
            self.residual_gain = nn.Parameter(torch.full((1, 3, 1, 1), float(residual_gain)))
            nn.init.zeros_(self.head.weight)  # start exactly at gain * input
            nn.init.zeros_(self.head.bias)

    def load_encoder(self, features_state: dict[str, torch.Tensor]) -> None:
        """Load ImageNet VGG16 ``features.*`` tensors (prefix stripped) into the encoder."""
        self.encoder.load_imagenet(features_state)

    # -- frozen-trunk feature cache (train.cache_trunk) ----------------------------------------
    @property
    def trunk_cache_stages(self) -> tuple[int, ...]:
        """Encoder stages a training run may precompute per image (empty: nothing to cache)."""
        return self.encoder.cacheable_stages()

    def trunk_cache(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """``(B, 1, H, W)`` in [0, 1] (``H, W`` multiples of ``size_multiple``) -> ``{stage: (B, C_s,
        H/2**s, W/2**s)}`` for :attr:`trunk_cache_stages`, to pass back as ``forward(x, trunk_feats=)``."""
        return self.encoder.cache_features(x, self.size_multiple, "unet-vgg16")

    def forward(self, x: torch.Tensor, trunk_feats: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"TrunkUNet expects (B, 1, H, W), got {tuple(x.shape)}")
        if trunk_feats:
            check_cacheable_size(x, self.size_multiple, "unet-vgg16")
        x, (h, w) = pad_to_multiple(x, self.size_multiple)
        feats = self.encoder(x, trunk_feats)
        feats[0] = torch.cat([feats[0], x], dim=1)
        y = feats[-1]
        for fuse, skip in zip(self.fuses, reversed(feats[:-1])):
            y = fuse(y, skip)
        if self.input_residual:
            rgb = x * self.residual_gain + self.head(y)
            if not self.training:
                rgb = rgb.clamp(0.0, 1.0)
            return rgb[..., :h, :w]
        rgb = torch.sigmoid(self.head(y))
        if self.luma_from_input:
            rgb = with_luminance(rgb, x)
        return rgb[..., :h, :w]


@register_model(
    "unet-vgg16",
    description="U-Net decoder on an ImageNet VGG16 encoder (load with model.encoder_weights); frozen trunk by default",
    domains=("nir", "gray"),
    tiny={"stages": 3, "frozen_stages": 3, "widths": (8, 8)},
)
def unet_vgg16(**kwargs) -> TrunkUNet:
    return TrunkUNet(**kwargs)
