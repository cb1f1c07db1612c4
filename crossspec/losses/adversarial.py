"""Least-squares GAN losses (Mao et al. 2017), as ColorMamba trains its two PatchGANs.

Inputs are raw discriminator outputs (patch logits) of any shape; real targets are 1, fake 0.
"""
from __future__ import annotations

import torch


def lsgan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean((D(G(x)) - 1)**2)``: the generator wants its outputs scored as real."""
    return ((fake_logits - 1.0) ** 2).mean()


def lsgan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``0.5 * (mean((D(real) - 1)**2) + mean(D(fake)**2))``; pass ``fake`` detached from G."""
    return 0.5 * (((real_logits - 1.0) ** 2).mean() + (fake_logits**2).mean())
