"""ColorMamba (Zhai et al. 2024, arXiv 2408.08087): NIR -> RGB with an HSV branch guiding an RGB branch.

Differences from the released code, all deliberate fixes: learnable padding tokens are real
parameters; the Laplacian is computed per image; the HSV head is a sigmoid; inputs of any size are
reflect-padded to ``size_multiple`` and cropped back; nothing is tied to CUDA.

An option the paper does not have: ``rgb_encoder="vgg16"`` takes the RGB branch's first encoder
levels from an ImageNet VGG16 trunk (:mod:`crossspec.models.colormamba.rgb_trunk` gives the
mapping); the trunk is ``model.encoder`` and the trainer loads its weights through
:meth:`ColorMamba.load_encoder` (``model.encoder_weights``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn

from crossspec.errors import CrossspecError
from crossspec.models.colormamba.domain import DomainFiLM, domain_index
from crossspec.models.colormamba.edges import laplacian_edges
from crossspec.models.colormamba.hsv_branch import HSVBranch
from crossspec.models.colormamba.rgb_branch import RGBBranch
from crossspec.models.colormamba.rgb_trunk import build_rgb_trunk
from crossspec.models.encoders import VGG16Trunk
from crossspec.models.encoders.vgg import check_cacheable_size
from crossspec.models.padding import pad_to_multiple


class ColorMamba(nn.Module):
    """HSV branch + RGB branch generator.

    ``forward(x)``: NIR ``(B, 1, H, W)`` in [0, 1] -> RGB ``(B, 3, H, W)`` in [0, 1], any H, W.
    ``forward_train(x)`` -> ``{"rgb": (B,3,H,W), "hsv": (B,3,H,W), "edge": (B,1,H,W)}``, all in
    [0, 1]; ``hsv`` is the HSV branch's prediction (hue as a fraction of a turn), ``edge`` the
    per-image Laplacian map the model was conditioned on.

    Mamba blocks: ``mamba_levels`` lists the scales 1/2**k that get a VSSB, in each of the three
    encoders (HSV-NIR, HSV-edge, RGB): with the default (1, 2, 3) that is 3 x 3 = 9 VSSBs. A level
    deeper than an encoder goes only into the encoders that reach it (the HSV encoders stop at
    ``hsv_levels``, the RGB encoder's blocks at ``rgb_levels - 1``); one that no encoder reaches is an error.

    ``cross_downsample``: the criss-cross fusion's attention runs at 1/``cross_downsample`` of the
    input size and is upsampled (its convolutional path stays at full size); 1, the paper's
    setting, attends at full size.

    ``num_domains`` > 1 makes one network serve several input domains: ``forward(x, domain)``
    with ``domain`` "nir" / "gray" (or indices, one per image) scales and shifts the features of
    the HSV-branch image encoder and the RGB-branch encoder with a learned per-domain table
    (:class:`~crossspec.models.colormamba.domain.DomainFiLM`). ``forward_train`` then also returns
    ``"features"``: the HSV guidance, for feature-level consistency losses.

    ``rgb_encoder``: ``"conv"`` (the paper's strided convolutions) or ``"vgg16"`` (an ImageNet
    VGG16 trunk, ``self.encoder``, for the RGB branch's levels 1/2 .. 1/2**(``rgb_encoder_stages``
    - 1), default 5 stages: relu1_2 .. relu5_3); ``rgb_frozen_stages`` of its stages are frozen
    (default all). Load ImageNet weights with :meth:`load_encoder`.
    """

    def __init__(self, rgb_width: int = 64, rgb_levels: int = 8, hsv_width: int = 32, hsv_levels: int = 4,
                 mamba_levels: Sequence[int] = (1, 2, 3), use_mamba: bool = True, d_state: int = 16,
                 expand: float = 2.0, agent_tokens: int = 49, heads: int = 8, use_agent: bool = True,
                 max_mult: int = 8, spade_hidden: int = 128, cross_downsample: int = 1, num_domains: int = 1,
                 rgb_encoder: str = "conv", rgb_encoder_stages: int | None = None,
                 rgb_frozen_stages: int | None = None) -> None:
        super().__init__()
        trunk = build_rgb_trunk(rgb_encoder, rgb_encoder_stages, rgb_frozen_stages, rgb_levels)
        mamba_levels = tuple(mamba_levels) if use_mamba else ()
        # The HSV encoders go down to 1/2**hsv_levels, the RGB encoder's VSSBs to 1/2**(rgb_levels - 1);
        # a level below both would build no block at all, which a typo should not do silently.
        deepest = max(hsv_levels, rgb_levels - 1)
        outside = [k for k in mamba_levels if not 1 <= k <= deepest]
        if outside:
            raise CrossspecError(f"colormamba: mamba_levels {outside} outside 1..{deepest} "
                                 f"(hsv_levels={hsv_levels}, rgb_levels={rgb_levels})")
        vssb_kw = dict(d_state=d_state, expand=expand, agent_tokens=agent_tokens, heads=heads, use_agent=use_agent)
        self.hsv_branch = HSVBranch(hsv_width, hsv_levels, mamba_levels, vssb_kw)
        self.rgb_branch = RGBBranch(rgb_width, rgb_levels, self.hsv_branch.guidance_channels, mamba_levels,
                                    max_mult, spade_hidden, vssb_kw, cross_downsample,
                                    trunk_channels=None if trunk is None else trunk.channels)
        # None (a plain attribute, no state) for the paper's encoder, whose modules, keys and
        # initial weights thus stay exactly what they were
        self.encoder: VGG16Trunk | None = trunk
        self.size_multiple = 2 ** max(rgb_levels, hsv_levels)
        self.num_domains = int(num_domains)
        if self.num_domains > 1:
            self.domain_film = nn.ModuleDict({
                "hsv": DomainFiLM(self.num_domains, self.hsv_branch.enc_nir.channels),
                "rgb": DomainFiLM(self.num_domains, self.rgb_branch.encoder_channels),
            })

    @staticmethod
    def _check(x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise CrossspecError(f"colormamba input: expected a (B, 1, H, W) tensor, got {shape}")

    def _films(self, domain, x: torch.Tensor):
        if self.num_domains == 1:
            if domain is not None and not isinstance(domain, str):
                raise CrossspecError("colormamba: domain indices need a model built with num_domains > 1")
            return None, None
        idx = domain_index("nir" if domain is None else domain, x.shape[0], self.num_domains, x.device)
        films = self.domain_film
        return (lambda f, k: films["hsv"](f, k, idx)), (lambda f, k: films["rgb"](f, k, idx))

    # -- the pretrained RGB encoder (rgb_encoder="vgg16") ---------------------------------------
    def load_encoder(self, features_state: dict[str, torch.Tensor]) -> None:
        """Load ImageNet VGG16 ``features.*`` tensors (prefix stripped) into the RGB branch's trunk."""
        if self.encoder is None:
            raise CrossspecError("colormamba: built with rgb_encoder='conv', which has no pretrained encoder to load "
                                 "weights into (use rgb_encoder='vgg16')")
        self.encoder.load_imagenet(features_state)

    @property
    def trunk_cache_stages(self) -> tuple[int, ...]:
        """Trunk stages a training run may precompute per image (``train.cache_trunk``)."""
        return () if self.encoder is None else self.encoder.cacheable_stages()

    def trunk_cache(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """``(B, 1, H, W)`` in [0, 1], ``H, W`` multiples of ``size_multiple`` -> ``{stage: (B, C_s,
        H/2**s, W/2**s)}`` for :attr:`trunk_cache_stages`, to pass back as ``forward_train(x, trunk_feats=)``."""
        return {} if self.encoder is None else self.encoder.cache_features(x, self.size_multiple, "colormamba")

    def forward_train(self, x: torch.Tensor, domain: str | int | torch.Tensor | None = None,
                      trunk_feats: Mapping[int, torch.Tensor] | None = None
                      ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """``trunk_feats``: precomputed outputs of frozen trunk stages for this ``x`` (see
        :meth:`trunk_cache`); ``x`` must then need no padding."""
        self._check(x)
        trunk = self.encoder
        if trunk_feats and trunk is None:
            raise CrossspecError("colormamba: trunk_feats given but the model has no pretrained trunk (rgb_encoder='conv')")
        if trunk_feats:
            check_cacheable_size(x, self.size_multiple, "colormamba")
        film_hsv, film_rgb = self._films(domain, x)
        xp, (h, w) = pad_to_multiple(x, self.size_multiple)
        edge = laplacian_edges(xp)
        hsv, guidance = self.hsv_branch(xp, edge, film_hsv)
        # relu1_2 (stage 0) feeds no skip: with stage 1 cached it need not run at all
        feats = None if trunk is None else trunk(xp, trunk_feats, outputs_from=1)
        rgb = self.rgb_branch(xp, hsv, edge, guidance, film_rgb, trunk=feats)
        crop = (..., slice(0, h), slice(0, w))
        out: dict = {"rgb": rgb[crop], "hsv": hsv[crop], "edge": edge[crop]}
        if self.num_domains > 1:
            out["features"] = list(guidance)
        return out

    def forward(self, x: torch.Tensor, domain: str | int | torch.Tensor | None = None,
                trunk_feats: Mapping[int, torch.Tensor] | None = None) -> torch.Tensor:
        """``domain`` (``num_domains`` > 1 only): "nir" (default) or "gray", or per-image indices.
        ``trunk_feats``: see :meth:`forward_train`."""
        return self.forward_train(x, domain, trunk_feats)["rgb"]


# Builders ---------------------------------------------------------------------------------------

PAPER = dict(rgb_width=64, rgb_levels=8, hsv_width=32, hsv_levels=4, mamba_levels=(1, 2, 3))
# Sized to train on 2 CPU cores: a step (forward_train + backward + Adam) at batch 8, 128x128 takes
# about 0.8 s with 2 threads on a quiet machine. Most of it is convolutions at full and half size,
# so the widths there are small; the HSV branch costs the most per unit of width (two encoders, a
# decoder twice as wide, two VSSBs), and hsv_width 8 -> 4 saves a quarter to a third of the step.
# VSSBs only at 1/8, where the scanned sequences are short. The criss-cross attention runs at 1/4:
# at full size its (B, H, W, H + W) energies took longer than all the rest of the step.
SMALL = dict(rgb_width=16, rgb_levels=5, hsv_width=4, hsv_levels=3, mamba_levels=(3,),
             max_mult=8, spade_hidden=16, d_state=8, agent_tokens=16, heads=4, cross_downsample=4)
TINY = dict(rgb_width=8, rgb_levels=5, hsv_width=4, hsv_levels=3, mamba_levels=(1, 2, 3),
            max_mult=2, spade_hidden=8, d_state=4, agent_tokens=4, heads=2)


def build_colormamba(**kw) -> ColorMamba:
    """Paper-size ColorMamba; any keyword overrides a hyper-parameter of :class:`ColorMamba`."""
    return ColorMamba(**{**PAPER, **kw})


def build_colormamba_small(**kw) -> ColorMamba:
    """CPU-trainable ColorMamba (same structure, narrower and shallower)."""
    return ColorMamba(**{**SMALL, **kw})


VGG16 = dict(rgb_encoder="vgg16", rgb_encoder_stages=5)
TINY_VGG16 = dict(TINY, rgb_encoder="vgg16", rgb_encoder_stages=3)


def build_colormamba_small_vgg16(**kw) -> ColorMamba:
    """ColorMamba-small whose RGB branch encodes with a frozen ImageNet VGG16 (relu1_2 .. relu5_3)."""
    return ColorMamba(**{**SMALL, **VGG16, **kw})
