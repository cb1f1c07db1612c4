"""VGG16 perceptual loss: distance between ImageNet VGG16 activations of the prediction and the target.

The term compares ``relu1_2``, ``relu2_2``, ``relu3_3`` and ``relu4_3`` (the ends of stages 1-4)
of a frozen ImageNet VGG16 fed with ImageNet-normalised RGB. Each stage's mean absolute difference
is divided by the mean absolute activation of the target at that stage (no gradient through the
divisor), so every stage weighs about the same whatever its activation scale, and the term is
near 1 for unrelated images and 0 for identical ones.

It is a training loss only. The evaluation's LPIPS uses a different trunk (AlexNet) and learned
heads, so training on this term does not train on the metric.

Weights are ImageNet VGG16 in torchvision's key layout, found as for the encoders
(:mod:`crossspec.io.imagenet_weights`: an explicit path, ``$CROSSSPEC_VGG16``, the torch hub cache;
nothing downloads).
"""
from __future__ import annotations

import logging
import os
from typing import Mapping

import torch
import torch.nn as nn

from crossspec.errors import CrossspecError
from crossspec.ops.vgg16_layers import IMAGENET_MEAN, IMAGENET_STD, vgg16_features

log = logging.getLogger("crossspec")

STAGES = 4  # relu1_2 .. relu4_3; relu5_3 adds little at 128-256 px crops and is the costliest to backprop


class VGGPerceptualLoss(nn.Module):
    """``forward(pred, target)`` -> scalar loss.

    Args:
        weights: a torchvision-layout VGG16 state dict (``features.N.*`` keys), a path to one, or
            ``"auto"`` (``$CROSSSPEC_VGG16`` or the torch hub cache). ``None`` keeps random
            weights (tests only).

    ``pred``, ``target``: ``(B, 3, H, W)`` RGB in [0, 1], ``H, W >= 8``. Returns the mean over the
    four stages of ``mean|f(pred) - f(target)| / mean|f(target)|``, a float32 scalar >= 0.
    Gradients flow to ``pred`` only; the network never trains and stays in eval mode.
    """

    def __init__(self, weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = "auto") -> None:
        super().__init__()
        features, cuts = vgg16_features()
        self.features = features[: cuts[STAGES - 1]]
        self.taps = [c - 1 for c in cuts[:STAGES]]  # the ReLU that ends each stage
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if weights is not None:
            self._load(weights)
        self.requires_grad_(False)
        self.eval()

    def _load(self, weights: str | os.PathLike | Mapping[str, torch.Tensor]) -> None:
        from crossspec.io.imagenet_weights import load_features_state, resolve_trunk_weights

        source = "state dict"
        if isinstance(weights, Mapping):
            weights = {k.removeprefix("features."): v for k, v in weights.items()}
        else:
            path = resolve_trunk_weights("vgg16", None if weights == "auto" else weights)
            source, weights = str(path), load_features_state(path)
            log.info("perceptual loss: ImageNet VGG16 weights from %s", path)
        own = self.features.state_dict()
        missing = [k for k in own if k not in weights]
        if missing:
            raise CrossspecError(f"perceptual loss: {source}: VGG16 weights lack {', '.join(missing[:4])}")
        wrong = [k for k in own if tuple(weights[k].shape) != tuple(own[k].shape)]
        if wrong:
            raise CrossspecError(f"perceptual loss: {source}: {wrong[0]} has shape {tuple(weights[wrong[0]].shape)}, "
                                 f"VGG16 needs {tuple(own[wrong[0]].shape)}")
        self.features.load_state_dict({k: weights[k].float() for k in own}, strict=True)

    def train(self, mode: bool = True) -> VGGPerceptualLoss:
        return super().train(False)

    def _activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out = []
        for i, layer in enumerate(self.features):
            y = layer(y)
            if i in self.taps:
                out.append(y)
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 3:
            raise ValueError(f"perceptual loss: expected pred and target (B, 3, H, W) of one shape, got "
                             f"{tuple(pred.shape)} and {tuple(target.shape)}")
        if min(pred.shape[-2:]) < 8:
            raise ValueError(f"perceptual loss: images must be at least 8 px on each side, got {tuple(pred.shape[-2:])}")
        with torch.no_grad():
            ft = self._activations(target)
        fp = self._activations(pred)
        terms = [(p.float() - t.float()).abs().mean() / t.float().abs().mean().clamp_min(1e-6) for p, t in zip(fp, ft)]
        return torch.stack(terms).mean()
