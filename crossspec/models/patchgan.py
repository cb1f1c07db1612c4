"""PatchGAN discriminator (pix2pix, Isola et al. 2017): one real/fake score per overlapping patch.

With the defaults (4x4 kernels, three stride-2 layers, then two stride-1 layers) each output
score sees a 70x70 input patch. ColorMamba uses two of them (on RGB and on HSV) with spectral norm.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from crossspec.models.registry import register_model


class PatchGAN(nn.Module):
    """``forward(x (B, in_channels, H, W))`` -> patch logits ``(B, 1, H', W')`` (unbounded; LSGAN
    compares them with 1 and 0). H', W' ~ H/2**layers - 2 for the default depth; H, W >= 2**layers * 4.

    ``spectral_norm=True`` wraps every conv in spectral normalization and uses no other norm;
    otherwise the hidden layers use InstanceNorm (batch-independent).
    """

    def __init__(self, in_channels: int = 3, base: int = 64, layers: int = 3, spectral_norm: bool = True) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)

        def block(cin: int, cout: int, stride: int, norm: bool) -> list[nn.Module]:
            mods: list[nn.Module] = [sn(nn.Conv2d(cin, cout, 4, stride=stride, padding=1, bias=not (norm and not spectral_norm)))]
            if norm and not spectral_norm:
                mods.append(nn.InstanceNorm2d(cout, affine=True))
            mods.append(nn.LeakyReLU(0.2))
            return mods

        mods = block(in_channels, base, 2, norm=False)
        ch = base
        for n in range(1, layers):
            nxt = base * min(2**n, 8)
            mods += block(ch, nxt, 2, norm=True)
            ch = nxt
        nxt = base * min(2**layers, 8)
        mods += block(ch, nxt, 1, norm=True)
        mods.append(sn(nn.Conv2d(nxt, 1, 4, stride=1, padding=1)))
        self.net = nn.Sequential(*mods)
        self.in_channels = in_channels
        self.size_multiple = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchGAN expects (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return self.net(x)


@register_model(
    "patchgan",
    description="PatchGAN discriminator (70x70 receptive field, optional spectral norm)",
    domains=("disc",),
    tiny=dict(base=8, layers=2),
)
def build_patchgan(in_channels: int = 3, base: int = 64, layers: int = 3, spectral_norm: bool = True) -> PatchGAN:
    return PatchGAN(in_channels, base=base, layers=layers, spectral_norm=spectral_norm)
