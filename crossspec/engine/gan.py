"""The optional adversarial pair: two conditional PatchGANs trained with least squares.

As in ColorMamba: one discriminator judges ``(input, RGB)``, the other ``(input, HSV)``; the LSGAN
terms are :mod:`crossspec.losses.adversarial`'s (real -> 1, fake -> 0). What the discriminators see
(input, generator outputs, target) is the training task's ``gan_view``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from crossspec.color import rgb_to_hsv
from crossspec.config import Config
from crossspec.losses.adversarial import lsgan_discriminator_loss, lsgan_generator_loss


def build_discriminators(cfg: Config) -> nn.ModuleDict:
    """Two conditional PatchGANs: ``rgb`` sees ``cat(input, rgb)``, ``hsv`` sees ``cat(input, hsv)``."""
    from crossspec.models.patchgan import PatchGAN

    kw: dict[str, Any] = dict(cfg.gan.kwargs)
    return nn.ModuleDict({"rgb": PatchGAN(in_channels=4, **kw), "hsv": PatchGAN(in_channels=4, **kw)})


def hsv_of(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's HSV prediction, or the HSV of its RGB when it predicts none."""
    return outputs["hsv"] if "hsv" in outputs else rgb_to_hsv(outputs["rgb"].clamp(0, 1))


def discriminator_loss(discs: nn.Module | nn.ModuleDict, x: torch.Tensor, outputs: dict[str, torch.Tensor],
                       target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """LSGAN loss of both discriminators on ``x`` (B,C,H,W) with real ``target`` (B,3,H,W) and the
    generator's ``outputs`` (detached here), all in [0, 1]."""
    real = {"rgb": target, "hsv": rgb_to_hsv(target)}
    fake = {"rgb": outputs["rgb"].detach(), "hsv": hsv_of(outputs).detach()}
    terms = {}
    for key in ("rgb", "hsv"):
        d = discs[key]
        terms[f"d_{key}"] = lsgan_discriminator_loss(d(torch.cat([x, real[key]], 1)), d(torch.cat([x, fake[key]], 1)))
    return terms["d_rgb"] + terms["d_hsv"], terms


def generator_adv_loss(discs: nn.Module | nn.ModuleDict, x: torch.Tensor, outputs: dict[str, torch.Tensor],
                       cfg: Config) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``weight_rgb * LSGAN(D_rgb(fake) -> 1) + weight_hsv * LSGAN(D_hsv(fake) -> 1)``."""
    g_rgb = lsgan_generator_loss(discs["rgb"](torch.cat([x, outputs["rgb"]], 1)))
    g_hsv = lsgan_generator_loss(discs["hsv"](torch.cat([x, hsv_of(outputs)], 1)))
    total = cfg.gan.weight_rgb * g_rgb + cfg.gan.weight_hsv * g_hsv
    return total, {"g_rgb": g_rgb, "g_hsv": g_hsv}
