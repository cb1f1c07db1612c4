"""Cross-domain cooperative losses: named, weighted terms over :meth:`CooperativeColorizer.cooperative_forward`.

Every term is logged separately (unweighted); a stage's ``weights`` say which are on. The colour
loss of each colorization is the run's ``loss.weights`` composite
(:class:`crossspec.losses.composite.ColorizationLoss`: L1, MSE, HSV, ...), so "supervised" means
the same recipe in both domains.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.color import rgb_to_luminance

TERMS: dict[str, str] = {
    "nir_color": "colour loss of colorize(NIR) against its RGB",
    "gray_color": "colour loss of colorize(gray) against its RGB",
    "translated_color": "colour loss of colorize(nir2gray(NIR)) and colorize(gray2nir(gray)) against their RGB",
    "translate": "L1 of nir2gray(NIR) to the pair's RGB luminance and of gray2nir(that luminance) to the NIR",
    "cycle": "L1 of gray2nir(nir2gray(NIR)) to NIR and of nir2gray(gray2nir(gray)) to gray",
    "pixel_consistency": "L1 between colorize(x) and colorize(translation of x), both domains",
    "feature_consistency": "1 - cosine similarity of the colorizer's HSV-guidance features of x and of its translation",
}


def feature_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Mean over levels and positions of ``1 - cos(a, b)`` along channels; 0 when equal, <= 2."""
    terms = [1 - F.cosine_similarity(x, y, dim=1, eps=1e-6).mean() for x, y in zip(a, b)]
    return torch.stack(terms).mean()


class CooperativeLoss(nn.Module):
    """``forward(out, batch, weights) -> (total, {term: value})`` over the terms of ``TERMS``.

    ``out`` is ``cooperative_forward``'s dict; ``batch`` holds ``input`` (B,1,H,W) NIR,
    ``target`` (B,3,H,W) RGB, ``gray_input``, ``gray_target``; all in [0, 1]. Terms with weight 0
    are not computed.
    """

    def __init__(self, color_loss: nn.Module) -> None:
        super().__init__()
        self.color_loss = color_loss

    def _color(self, outputs: Mapping[str, Any], target: torch.Tensor) -> torch.Tensor:
        return self.color_loss({"rgb": outputs["rgb"], "hsv": outputs["hsv"]}, target)[0]

    def forward(self, out: Mapping[str, Any], batch: Mapping[str, torch.Tensor],
                weights: Mapping[str, float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        nir, rgb = batch["input"], batch["target"]
        gray, rgb_g = batch["gray_input"], batch["gray_target"]
        terms: dict[str, torch.Tensor] = {}
        on = {k for k, w in weights.items() if w > 0}
        if "nir_color" in on:
            terms["nir_color"] = self._color(out["nir"], rgb)
        if "gray_color" in on:
            terms["gray_color"] = self._color(out["gray"], rgb_g)
        if "translated_color" in on:
            terms["translated_color"] = 0.5 * (self._color(out["nir_via_gray"], rgb)
                                               + self._color(out["gray_via_nir"], rgb_g))
        if "translate" in on:
            terms["translate"] = 0.5 * (F.l1_loss(out["n2g"], rgb_to_luminance(rgb)) + F.l1_loss(out["g2n_pair"], nir))
        if "cycle" in on:
            terms["cycle"] = 0.5 * (F.l1_loss(out["cycle_nir"], nir) + F.l1_loss(out["cycle_gray"], gray))
        if "pixel_consistency" in on:
            terms["pixel_consistency"] = 0.5 * (F.l1_loss(out["nir"]["rgb"], out["nir_via_gray"]["rgb"])
                                                + F.l1_loss(out["gray"]["rgb"], out["gray_via_nir"]["rgb"]))
        if "feature_consistency" in on:
            terms["feature_consistency"] = 0.5 * (
                feature_distance(out["nir"]["features"], out["nir_via_gray"]["features"])
                + feature_distance(out["gray"]["features"], out["gray_via_nir"]["features"]))
        total = sum(weights[k] * v for k, v in terms.items())
        return total, terms  # type: ignore[return-value]
