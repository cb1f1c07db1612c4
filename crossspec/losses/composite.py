"""Weighted sum of colorization loss terms, configured by name.

Term names (the ``weights`` keys) and what they compare:

============  =================================================================
``mse``       MSE(rgb, target)
``l1``        L1(rgb, target)
``charbonnier`` Charbonnier(rgb, target)
``psnr``      -PSNR(rgb, target) in dB, averaged per image (see ``pixel.psnr_loss``)
``ssim``      1 - SSIM(rgb, target)            (variant ``ssim_variant``)
``msssim``    1 - MS-SSIM(rgb, target)
``hsv``       HSV loss (circular hue, saturation-weighted) of outputs["hsv"] vs HSV(target)
``hsv_mse``   MSE(outputs["hsv"], HSV(target))
``feature``   R(rgb, target): frozen-feature reconstruction loss (see ``feature.py``)
``feature_hsv`` R(outputs["hsv"], HSV(target))
``perceptual`` VGG16 perceptual distance of rgb vs target, ImageNet weights (see ``perceptual.py``;
              option ``perceptual_weights``: "auto" or a path)
``ab_ce``     rebalanced cross-entropy of outputs["ab_logits"] over the ab bins vs the
              soft-encoded Lab ab of target (Zhang'16; see ``ab_ce.py``); needs option ``ab_prior``
``lightness_l1`` L1(outputs["L"], L*(target) / 100): lightness regression (Zhang'16 on NIR)
``colorfulness`` 1 - CF(rgb) / 100: DDColor's colourfulness loss (no target; see ``colorfulness.py``)
``lab_mse``   MSE of outputs["ab"] (and ["L"] when given) vs unit-scaled Lab(target) (Iizuka'16; ``chroma.py``)
``yuv_mse``   MSE of outputs["uv"] (and ["y"] when given) vs YUV(target) (Cheng'15; ``chroma.py``)
``scene_ce``  cross-entropy of outputs["scene_logits"] vs the batch's scene ``label`` (``scene.py``)
============  =================================================================

The adversarial terms live in the training engine (they need the discriminators); see
``adversarial.py``. ColorMamba's released generator loss is
``GAN_hsv + GAN_rgb + 100 * [20 MSE(rgb) + 20 R(rgb) + R(hsv) + MSE(hsv)]``, i.e.
:data:`COLORMAMBA_RECIPE` here plus both LSGAN generator terms with weight 1.
"""
from __future__ import annotations

import difflib
import os
from typing import Any, Mapping

import torch
import torch.nn as nn

from crossspec.color import rgb_to_hsv, rgb_to_lab
from crossspec.errors import ConfigError, CrossspecError, file_error
from crossspec.losses.ab_ce import ab_cross_entropy
from crossspec.losses.chroma import lab_mse_loss, yuv_mse_loss
from crossspec.losses.colorfulness import colorfulness_loss
from crossspec.losses.feature import FeatureLoss
from crossspec.losses.hsv import hsv_loss
from crossspec.losses.lightness import lightness_l1
from crossspec.losses.perceptual import VGGPerceptualLoss
from crossspec.losses.pixel import charbonnier_loss, l1_loss, mse_loss, psnr_loss
from crossspec.losses.scene import scene_ce_loss
from crossspec.losses.ssim_loss import msssim_loss, ssim_loss

TERMS = ("mse", "l1", "charbonnier", "psnr", "ssim", "msssim", "hsv", "hsv_mse", "feature", "feature_hsv",
         "perceptual", "ab_ce", "lightness_l1", "colorfulness", "lab_mse", "yuv_mse", "scene_ce")
_NEEDS_HSV = {"hsv", "hsv_mse", "feature_hsv"}
# terms on the Lab target, and the forward_train output each reads
_LAB_TERMS = {"ab_ce": "ab_logits", "lightness_l1": "L"}
# terms that read other entries of the model's output dict (or the batch's labels) than "rgb"
_FROM_OUTPUTS = {"lab_mse", "yuv_mse", "scene_ce"}

# ColorMamba (released code): 100 * [20 MSE(rgb) + 20 R(rgb) + R(hsv) + MSE(hsv)]
COLORMAMBA_RECIPE = {"mse": 2000.0, "feature": 2000.0, "feature_hsv": 100.0, "hsv_mse": 100.0}

_OPTIONS = ("feature_network", "ssim_variant", "charbonnier_eps", "feature_msssim_weight", "ab_prior",
            "perceptual_weights")


def _unknown(kind: str, name: str, known: tuple[str, ...]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{kind} {name!r}: unknown{hint}; known: {', '.join(known)}")


class ColorizationLoss(nn.Module):
    """``forward(outputs, target_rgb, mask=None, label=None)`` -> ``(total, {term: value})``.

    ``outputs``: the dict of ``forward_train`` (at least ``"rgb"`` (B,3,H,W) in [0,1]; ``"hsv"``
    for the HSV terms); ``target_rgb``: (B,3,H,W) in [0,1]. Terms with weight 0 are not computed;
    the returned per-term values are detached and unweighted.

    ``mask`` (B,1,H,W), 1 = valid pixel (raster nodata is 0): pixel terms (mse, l1, charbonnier,
    psnr, hsv_mse) average over valid pixels only, ``colorfulness`` takes each image's statistics
    over its valid pixels; window and feature terms (ssim, msssim, hsv, feature*, perceptual) see the
    prediction with invalid pixels replaced by the target, so those pixels add no error and no
    gradient. Without a mask every term is exactly as before.

    ``ab_ce`` averages over low-resolution cells whose pixels are all valid; ``lightness_l1``,
    ``lab_mse`` and ``yuv_mse`` over valid pixels; ``scene_ce`` is per image and ignores the mask.

    ``label`` (B,) int64: the batch's scene classes for ``scene_ce`` (-1 = unlabelled sample; None
    = no labels in this batch, the term is then 0).

    Options: ``feature_network`` ("none" or a path to ``autoencoder.pth``, or a module),
    ``ssim_variant`` ("gaussian" | "skimage"), ``charbonnier_eps``, ``feature_msssim_weight``,
    ``ab_prior`` (for ``ab_ce``: a file from ``crossspec data ab-prior`` whose rebalancing weights
    are used, or "uniform" for none; required by that term), ``perceptual_weights`` (for
    ``perceptual``: "auto", a path to ImageNet VGG16 weights, or a state dict).
    """

    def __init__(self, weights: Mapping[str, float], *, feature_network: Any = "none",
                 ssim_variant: str = "gaussian", charbonnier_eps: float = 1e-3,
                 feature_msssim_weight: float = 1.0, ab_prior: str | os.PathLike | None = None,
                 perceptual_weights: Any = "auto") -> None:
        super().__init__()
        for name in weights:
            if name not in TERMS:
                raise _unknown("loss term", name, TERMS)
        self.weights = {k: float(v) for k, v in weights.items() if float(v) != 0.0}
        if not self.weights:
            raise ConfigError("loss weights: every weight is zero or none is given")
        self.ssim_variant = ssim_variant
        self.charbonnier_eps = charbonnier_eps
        self.feature = None
        if {"feature", "feature_hsv"} & self.weights.keys():
            self.feature = FeatureLoss(feature_network, msssim_weight=feature_msssim_weight)
        self.perceptual = VGGPerceptualLoss(perceptual_weights) if "perceptual" in self.weights else None
        if "ab_ce" in self.weights:
            centres, ab_weights = _ab_ce_tables(ab_prior)
            self.register_buffer("ab_centres", centres, persistent=False)
            self.register_buffer("ab_weights", ab_weights, persistent=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ColorizationLoss":
        """Build from ``{"weights": {term: w, ...}, option: value, ...}``; unknown keys are errors."""
        if not isinstance(config, Mapping) or "weights" not in config:
            raise ConfigError("loss: expected a mapping with a 'weights' entry")
        for key in config:
            if key != "weights" and key not in _OPTIONS:
                raise _unknown("loss option", key, ("weights", *_OPTIONS))
        weights = config["weights"]
        if not isinstance(weights, Mapping):
            raise ConfigError(f"loss.weights: expected a mapping of term -> weight, got {type(weights).__name__}")
        opts = {k: v for k, v in config.items() if k != "weights"}
        for key in ("feature_network", "ab_prior", "perceptual_weights"):
            if isinstance(opts.get(key), (str, os.PathLike)):
                opts[key] = os.fspath(opts[key])
        return cls(weights, **opts)

    def forward(self, outputs: Mapping[str, torch.Tensor], target_rgb: torch.Tensor,
                mask: torch.Tensor | None = None,
                label: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        rgb = outputs["rgb"]
        hsv_pred = hsv_target = None
        if _NEEDS_HSV & self.weights.keys():
            if "hsv" not in outputs:
                raise CrossspecError("loss terms " + ", ".join(sorted(_NEEDS_HSV & self.weights.keys()))
                                     + ": the model gives no 'hsv' output (use forward_train of a model with an HSV branch)")
            hsv_pred = outputs["hsv"]
            hsv_target = rgb_to_hsv(target_rgb)
        lab_target = None
        if _LAB_TERMS.keys() & self.weights.keys():
            lab_target = rgb_to_lab(target_rgb)
        values: dict[str, torch.Tensor] = {}
        for name in self.weights:
            if name in _LAB_TERMS:
                values[name] = self._lab_term(name, outputs, lab_target, mask)
            elif name in _FROM_OUTPUTS:
                values[name] = self._output_term(name, outputs, target_rgb, mask, label)
            else:
                values[name] = self._term(name, rgb, target_rgb, hsv_pred, hsv_target, mask)
        total = sum(self.weights[k] * v for k, v in values.items())
        return total, {k: v.detach() for k, v in values.items()}

    def _lab_term(self, name: str, outputs: Mapping[str, torch.Tensor], lab_target: torch.Tensor,
                  mask: torch.Tensor | None) -> torch.Tensor:
        key = _LAB_TERMS[name]
        if key not in outputs:
            why = {"ab_logits": "a model that predicts a distribution over ab bins, e.g. zhang16",
                   "L": "a model that regresses lightness, e.g. zhang16 with lightness='predict' (the NIR setting)"}[key]
            raise CrossspecError(f"loss term {name}: the model gives no {key!r} output (needs {why})")
        if name == "ab_ce":
            return ab_cross_entropy(outputs["ab_logits"], lab_target[:, 1:], self.ab_centres, self.ab_weights, mask)
        return lightness_l1(outputs["L"], lab_target[:, :1] / 100.0, mask)

    @staticmethod
    def _output_term(name, outputs, target, mask, label) -> torch.Tensor:
        if name == "lab_mse":
            return lab_mse_loss(outputs, target, mask=mask)
        if name == "yuv_mse":
            return yuv_mse_loss(outputs, target, mask=mask)
        if "scene_logits" not in outputs:
            raise CrossspecError("loss term scene_ce: the model gives no 'scene_logits' output (build it with a "
                                 "classification head, e.g. iizuka16 with num_classes set)")
        return scene_ce_loss(outputs["scene_logits"], label)

    def _term(self, name, rgb, target, hsv_pred, hsv_target, mask=None) -> torch.Tensor:
        if name == "mse":
            return mse_loss(rgb, target, mask=mask)
        if name == "l1":
            return l1_loss(rgb, target, mask=mask)
        if name == "charbonnier":
            return charbonnier_loss(rgb, target, self.charbonnier_eps, mask=mask)
        if name == "psnr":
            return psnr_loss(rgb, target, mask=mask)
        if name == "hsv_mse":
            return mse_loss(hsv_pred, hsv_target, mask=mask)
        if name == "colorfulness":
            return colorfulness_loss(rgb, mask=mask)
        if mask is not None:
            valid = mask.to(rgb.dtype) > 0
            rgb = torch.where(valid, rgb, target)
            if hsv_pred is not None:
                hsv_pred = torch.where(valid, hsv_pred, hsv_target)
        if name == "ssim":
            return ssim_loss(rgb, target, self.ssim_variant)
        if name == "msssim":
            return msssim_loss(rgb, target)
        if name == "hsv":
            return hsv_loss(hsv_pred, hsv_target)
        if name == "feature":
            return self.feature(rgb, target)
        if name == "feature_hsv":
            return self.feature(hsv_pred, hsv_target)
        if name == "perceptual":
            return self.perceptual(rgb, target)
        raise AssertionError(name)  # unreachable: names are checked in __init__


def _ab_ce_tables(ab_prior: str | os.PathLike | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin centres ``(Q, 2)`` and rebalancing weights ``(Q,)`` for the ab_ce term, float32."""
    from crossspec.io.ab_prior import load_ab_prior
    from crossspec.ops.ab_gamut import gamut_centres

    centres = gamut_centres()
    if ab_prior is None:
        raise ConfigError("loss.options.ab_prior: the ab_ce term needs the class-rebalancing prior: a file made by "
                          "`crossspec data ab-prior --data ROOT -o FILE.npz`, or 'uniform' for no rebalancing")
    if isinstance(ab_prior, str) and ab_prior == "uniform":
        return centres, torch.ones(centres.shape[0])
    prior = load_ab_prior(ab_prior)
    if prior.centres.shape != tuple(centres.shape) or not torch.equal(torch.from_numpy(prior.centres), centres):
        raise file_error(ab_prior, f"its {prior.bins} ab bins are not this crossspec's gamut ({centres.shape[0]} bins "
                                   "at grid 10); recompute it with `crossspec data ab-prior`")
    return centres, torch.from_numpy(prior.weights).float()
