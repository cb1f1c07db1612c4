"""Training objectives: the generator's supervised loss and the optional LSGAN pair.

The supervised loss is ``crossspec.losses.composite.ColorizationLoss`` built from the config's
``loss`` mapping (term -> weight). The adversarial part follows ColorMamba: two conditional
PatchGANs, one judging ``(input, RGB)`` and one ``(input, HSV)``, trained with least squares
(real -> 1, fake -> 0).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn

from crossspec.color import rgb_to_hsv
from crossspec.config import Config

LossFn = Callable[[dict[str, torch.Tensor], dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def build_loss(cfg: Config) -> LossFn:
    """``loss_fn(outputs, batch) -> (total, {term: value})`` for ``cfg.loss``.

    ``outputs`` is the model's ``forward_train`` dict (at least ``"rgb"``); ``batch`` the collated
    sample dict with ``"input" (B,C,H,W)`` and ``"target" (B,3,H,W)`` in [0, 1], and optionally
    ``"mask" (B,1,H,W)`` (raster pairs: 1 = valid pixel), which restricts the loss to valid pixels.
    """
    from crossspec.losses.composite import ColorizationLoss

    module = ColorizationLoss.from_config({"weights": dict(cfg.loss.weights), **cfg.loss.options})

    def loss_fn(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]):
        return module(outputs, batch["target"], mask=batch.get("mask"))

    loss_fn.module = module  # type: ignore[attr-defined]
    return loss_fn


class SupervisedObjective:
    """One domain, one colorizer: ``forward`` runs the model's training dict on ``batch["input"]``;
    ``loss`` is ``cfg.loss``; ``gan_view`` is ``(input, outputs, target)``."""

    def __init__(self, loss_fn: LossFn) -> None:
        self.loss_fn = loss_fn

    def forward(self, net: nn.Module, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        return net(batch["input"])

    def loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], step: int):
        return self.loss_fn(outputs, batch)

    @staticmethod
    def gan_view(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]):
        return batch["input"], outputs, batch["target"]


def to_float(outputs: Any) -> Any:
    """Model outputs (nested dicts / lists of tensors, bf16 under autocast) as float32."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float()
    if isinstance(outputs, dict):
        return {k: to_float(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [to_float(v) for v in outputs]
    return outputs


def build_discriminators(cfg: Config) -> nn.ModuleDict:
    """Two conditional PatchGANs: ``rgb`` sees ``cat(input, rgb)``, ``hsv`` sees ``cat(input, hsv)``."""
    from crossspec.models.patchgan import PatchGAN

    kw: dict[str, Any] = dict(cfg.gan.kwargs)
    return nn.ModuleDict({"rgb": PatchGAN(in_channels=4, **kw), "hsv": PatchGAN(in_channels=4, **kw)})


def hsv_of(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's HSV prediction, or the HSV of its RGB when it predicts none."""
    return outputs["hsv"] if "hsv" in outputs else rgb_to_hsv(outputs["rgb"].clamp(0, 1))


def lsgan(pred: torch.Tensor, real: bool) -> torch.Tensor:
    return (pred - (1.0 if real else 0.0)).square().mean()


def discriminator_loss(discs: nn.Module | nn.ModuleDict, x: torch.Tensor, outputs: dict[str, torch.Tensor],
                       target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """LSGAN loss of both discriminators; the generator's outputs are detached."""
    real = {"rgb": target, "hsv": rgb_to_hsv(target)}
    fake = {"rgb": outputs["rgb"].detach(), "hsv": hsv_of(outputs).detach()}
    terms = {}
    for key in ("rgb", "hsv"):
        d = discs[key]
        terms[f"d_{key}"] = 0.5 * (lsgan(d(torch.cat([x, real[key]], 1)), True)
                                   + lsgan(d(torch.cat([x, fake[key]], 1)), False))
    return terms["d_rgb"] + terms["d_hsv"], terms


def generator_adv_loss(discs: nn.Module | nn.ModuleDict, x: torch.Tensor, outputs: dict[str, torch.Tensor],
                       cfg: Config) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``weight_rgb * LSGAN(D_rgb(fake) -> 1) + weight_hsv * LSGAN(D_hsv(fake) -> 1)``."""
    g_rgb = lsgan(discs["rgb"](torch.cat([x, outputs["rgb"]], 1)), True)
    g_hsv = lsgan(discs["hsv"](torch.cat([x, hsv_of(outputs)], 1)), True)
    total = cfg.gan.weight_rgb * g_rgb + cfg.gan.weight_hsv * g_hsv
    return total, {"g_rgb": g_rgb, "g_hsv": g_hsv}
