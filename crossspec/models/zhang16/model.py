"""Colorful Image Colorization (Zhang, Isola & Efros, ECCV 2016) on an ImageNet VGG16 trunk.

The network classifies every low-resolution position into one of ``Q`` quantized ab bins
(:mod:`crossspec.ops.ab_gamut`) and decodes the distribution with the annealed mean (T = 0.38);
the output is ``Lab(L, ab)`` converted to sRGB through kornia.

Network (``trunk_stages=4``, the default):

- encoder: :class:`~crossspec.models.encoders.VGG16Trunk` stages 1-4 (``relu4_3``, stride 8),
  the one-band input replicated to RGB; frozen by default and loadable with ImageNet weights
  (``model.encoder_weights``);
- one block per entry of ``dilations`` at stride 8 (two 3x3 convolutions of ``width`` channels,
  GroupNorm, ReLU; dilation 2, 2, 1: the paper's conv5, conv6 (dilated) and conv7);
- conv8: bilinear x2 upsampling, two 3x3 convolutions of ``up_width``, a 1x1 convolution to ``Q``
  logits at stride 4 (64 x 64 for a 256 x 256 input);
- ab = annealed mean of ``softmax(logits / T)`` at stride 4, upsampled bilinearly to full size.

Lightness, per domain (``lightness``):

- ``"input"`` (gray): L* of the input gray seen as an sRGB grey (``rgb_to_lab`` of the gray replicated
  to three channels). The input is BT.601 *luma*, which L* of an sRGB grey does not reproduce
  exactly for coloured pixels, so with ``match_luma`` (default) the RGB output is shifted equally
  in its three channels so its BT.601 luma equals the input (then clamped to [0, 1]). With the true
  ab, this takes the reconstruction of VCIP train-val from 46.7 dB to 75.7 dB PSNR.
- ``"predict"`` (NIR, whose intensity is not visible lightness): a regression head predicts
  ``L*/100`` in [0, 1] at full resolution with a sigmoid, from the input, the full-resolution trunk
  features (``relu1_2``) and the conv8 features (reduced to 16 channels, upsampled). It is trained
  by the ``lightness_l1`` loss term.

``forward(x)``: ``(B, 1, H, W)`` in [0, 1] -> RGB ``(B, 3, H, W)`` in [0, 1], any ``H, W`` (reflect
padding to a multiple of ``size_multiple``, cropped back). ``forward_train(x)`` -> ``{"rgb",
"ab_logits" (B, Q, ceil(H/s), ceil(W/s)) with s the logit stride, and "L" (B, 1, H, W) for
lightness="predict"}``; the ``ab_ce`` loss term reads ``ab_logits``.

Kept from the paper: the ab gamut at grid 10, classification with soft-encoded targets (5
neighbours, sigma 5), class rebalancing (lam 0.5, sigma-5 smoothing of the empirical prior; the
``ab_ce`` term with ``crossspec data ab-prior``), annealed-mean decoding at T = 0.38, a VGG-like
encoder whose last stages keep stride 8 with dilated convolutions, logits at stride 4 upsampled.

Changed, and why:

- 262 bins, not 313: the cells that sRGB reaches through kornia's Lab (see ``ab_gamut``).
- The encoder is ImageNet VGG16 up to ``relu4_3`` (frozen by default) instead of a net trained
  from scratch on 1.3 M ImageNet images: VCIP has 326 training images and the budget is CPU
  minutes. The paper's conv5-conv7 (3 convolutions of 512 channels each, BatchNorm) are 2
  convolutions of ``width`` (256) with GroupNorm (batches of 8 or fewer), and conv8 has ``up_width``
  (128) channels instead of 256, with bilinear upsampling in place of a learned deconvolution.
- The NIR lightness head (the paper colorizes only gray input, whose L is given).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.color import gray_to_rgb, lab_to_rgb, rgb_to_lab, with_luminance
from crossspec.models.blocks import conv_norm_relu
from crossspec.models.encoders import VGG16Trunk
from crossspec.models.padding import pad_to_multiple
from crossspec.ops.ab_gamut import TEMPERATURE, annealed_mean, gamut_centres

LIGHTNESS = ("input", "predict")


def _conv(cin: int, cout: int, dilation: int = 1) -> list[nn.Module]:
    return list(conv_norm_relu(cin, cout, dilation=dilation))


class Zhang16(nn.Module):
    """Zhang et al. 2016 colorizer: ab-bin classification on a VGG16 trunk (see the module docstring).

    Args:
        trunk_stages: VGG16 stages used (2-5); the trunk's stride is ``2**(trunk_stages-1)`` and the
            logits' half that.
        frozen_stages: trunk stages kept frozen (0 = fine-tune all).
        width: channels of the dilated blocks.
        dilations: one block (two 3x3 convolutions) per entry, at the trunk's stride.
        up_width: channels of conv8 (after the x2 upsampling).
        lightness: "input" (gray) or "predict" (NIR): where L* comes from.
        lightness_width: channels of the lightness head (lightness="predict").
        match_luma: lightness="input" only: shift the RGB output so its BT.601 luma equals the input.
        temperature: annealed-mean temperature of the decoding (the paper's 0.38).
    """

    def __init__(self, trunk_stages: int = 4, frozen_stages: int = 4, width: int = 256,
                 dilations: Sequence[int] = (2, 2, 1), up_width: int = 128, lightness: str = "predict",
                 lightness_width: int = 32, match_luma: bool = True, temperature: float = TEMPERATURE) -> None:
        super().__init__()
        if not 2 <= trunk_stages <= 5:
            raise ValueError(f"trunk_stages must be in 2..5, got {trunk_stages}")
        if lightness not in LIGHTNESS:
            raise ValueError(f"lightness must be one of {', '.join(LIGHTNESS)}, got {lightness!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        dilations = tuple(int(d) for d in dilations)
        if any(d < 1 for d in dilations):
            raise ValueError(f"dilations must be positive, got {dilations}")
        self.encoder = VGG16Trunk(stages=trunk_stages, frozen_stages=frozen_stages)
        centres = gamut_centres()
        # not persistent: the bins are a property of the gamut, and the head's size already pins Q
        self.register_buffer("centres", centres, persistent=False)
        self.bins = centres.shape[0]

        layers: list[nn.Module] = []
        cin = self.encoder.channels[-1]
        for d in dilations:
            layers += _conv(cin, width, d) + _conv(width, width, d)
            cin = width
        self.body = nn.Sequential(*layers)
        self.conv8 = nn.Sequential(*_conv(cin, up_width), *_conv(up_width, up_width))
        self.classifier = nn.Conv2d(up_width, self.bins, 1)

        self.lightness = lightness
        self.match_luma = bool(match_luma)
        if lightness == "predict":
            self.l_reduce = nn.Conv2d(up_width, 16, 1)
            self.l_head = nn.Sequential(*_conv(16 + self.encoder.channels[0] + 1, lightness_width),
                                        *_conv(lightness_width, lightness_width), nn.Conv2d(lightness_width, 1, 1))
        self.temperature = float(temperature)
        self.size_multiple = 2 ** (trunk_stages - 1)
        self.logit_stride = self.size_multiple // 2

    def load_encoder(self, features_state: dict[str, torch.Tensor]) -> None:
        """Load ImageNet VGG16 ``features.*`` tensors (prefix stripped) into the encoder."""
        self.encoder.load_imagenet(features_state)

    def _run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"zhang16 expects (B, 1, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        xp, _ = pad_to_multiple(x, self.size_multiple)
        feats = self.encoder(xp)
        y = self.body(feats[-1])
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = self.conv8(y)
        logits = self.classifier(y)
        ab = annealed_mean(logits, self.centres, self.temperature)
        ab = F.interpolate(ab, size=xp.shape[-2:], mode="bilinear", align_corners=False)[..., :h, :w]
        out = {"ab_logits": logits[..., : -(-h // self.logit_stride), : -(-w // self.logit_stride)]}
        if self.lightness == "predict":
            hint = F.interpolate(self.l_reduce(y), size=xp.shape[-2:], mode="bilinear", align_corners=False)
            lum = torch.sigmoid(self.l_head(torch.cat([hint, feats[0], xp], dim=1)))[..., :h, :w]
            out["L"] = lum
            light = lum * 100.0
        else:
            light = rgb_to_lab(gray_to_rgb(x))[:, :1]
        rgb = lab_to_rgb(torch.cat([light, ab], dim=1))
        if self.lightness == "input" and self.match_luma:
            rgb = with_luminance(rgb, x)
        out["rgb"] = rgb
        return out

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"rgb": (B,3,H,W), "ab_logits": (B,Q,ceil(H/s),ceil(W/s)), "L": (B,1,H,W) (predict only)}``."""
        return self._run(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)["rgb"]
