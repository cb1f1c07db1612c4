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

from crossspec.color import rgb_to_hsv
from crossspec.errors import ConfigError, CrossspecError
from crossspec.losses.feature import FeatureLoss
from crossspec.losses.hsv import hsv_loss
from crossspec.losses.pixel import charbonnier_loss, l1_loss, mse_loss, psnr_loss
from crossspec.losses.ssim_loss import msssim_loss, ssim_loss

TERMS = ("mse", "l1", "charbonnier", "psnr", "ssim", "msssim", "hsv", "hsv_mse", "feature", "feature_hsv")
_NEEDS_HSV = {"hsv", "hsv_mse", "feature_hsv"}

# ColorMamba (released code): 100 * [20 MSE(rgb) + 20 R(rgb) + R(hsv) + MSE(hsv)]
COLORMAMBA_RECIPE = {"mse": 2000.0, "feature": 2000.0, "feature_hsv": 100.0, "hsv_mse": 100.0}

_OPTIONS = ("feature_network", "ssim_variant", "charbonnier_eps", "feature_msssim_weight")


def _unknown(kind: str, name: str, known: tuple[str, ...]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{kind} {name!r}: unknown{hint}; known: {', '.join(known)}")


class ColorizationLoss(nn.Module):
    """``forward(outputs, target_rgb, mask=None)`` -> ``(total, {term: value})``.

    ``outputs``: the dict of ``forward_train`` (at least ``"rgb"`` (B,3,H,W) in [0,1]; ``"hsv"``
    for the HSV terms); ``target_rgb``: (B,3,H,W) in [0,1]. Terms with weight 0 are not computed;
    the returned per-term values are detached and unweighted.

    ``mask`` (B,1,H,W), 1 = valid pixel (raster nodata is 0): pixel terms (mse, l1, charbonnier,
    psnr, hsv_mse) average over valid pixels only; window and feature terms (ssim, msssim, hsv,
    feature*) see the prediction with invalid pixels replaced by the target, so those pixels add no
    error and no gradient. Without a mask every term is exactly as before.

    Options: ``feature_network`` ("none" or a path to ``autoencoder.pth``, or a module),
    ``ssim_variant`` ("gaussian" | "skimage"), ``charbonnier_eps``, ``feature_msssim_weight``.
    """

    def __init__(self, weights: Mapping[str, float], *, feature_network: Any = "none",
                 ssim_variant: str = "gaussian", charbonnier_eps: float = 1e-3,
                 feature_msssim_weight: float = 1.0) -> None:
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
        if isinstance(opts.get("feature_network"), (str, os.PathLike)):
            opts["feature_network"] = os.fspath(opts["feature_network"])
        return cls(weights, **opts)

    def forward(self, outputs: Mapping[str, torch.Tensor], target_rgb: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        rgb = outputs["rgb"]
        hsv_pred = hsv_target = None
        if _NEEDS_HSV & self.weights.keys():
            if "hsv" not in outputs:
                raise CrossspecError("loss terms " + ", ".join(sorted(_NEEDS_HSV & self.weights.keys()))
                                     + ": the model gives no 'hsv' output (use forward_train of a model with an HSV branch)")
            hsv_pred = outputs["hsv"]
            hsv_target = rgb_to_hsv(target_rgb)
        values: dict[str, torch.Tensor] = {}
        for name in self.weights:
            values[name] = self._term(name, rgb, target_rgb, hsv_pred, hsv_target, mask)
        total = sum(self.weights[k] * v for k, v in values.items())
        return total, {k: v.detach() for k, v in values.items()}

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
        raise AssertionError(name)  # unreachable: names are checked in __init__
