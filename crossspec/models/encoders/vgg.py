"""VGG16 convolutional trunk (Simonyan & Zisserman 2015) as a multi-scale encoder.

The layers sit at torchvision's ``vgg16().features`` indices, so an ImageNet state dict loads with
``load_state_dict(..., strict=True)`` once its ``features.`` prefix is stripped. The trunk is cut
into five stages at the max-pooling layers; stage ``s`` (1-based) ends at ``relu{s}_{2 or 3}`` and
has stride ``2**(s-1)``: 64, 128, 256, 512, 512 channels.

A one-band input (NIR or gray, ``(B, 1, H, W)`` in [0, 1]) is replicated to three channels and
normalised with the ImageNet statistics, which is exactly what the pretrained first convolution
expects from a gray RGB image. ``input_conv="learned"`` instead folds the replication and the
normalisation into a one-channel first convolution (``conv1_1`` weights summed over RGB, each divided
by its channel's std, the mean moved into the bias) and trains it, so the trunk can adapt its first
filters to NIR statistics; that first layer then trains whatever ``frozen_stages`` says, and the
gradient has to cross the frozen stages to reach it, so nothing can be cached. (Frozen, the folded
form gives the replicated output away from the border; at it zero padding pads a different value.)
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

from crossspec.errors import CrossspecError
from crossspec.ops.vgg16_layers import IMAGENET_MEAN, IMAGENET_STD, VGG16_CFG, vgg16_features

STAGE_CHANNELS = (64, 128, 256, 512, 512)
INPUT_CONVS = ("replicate", "learned")


def check_cacheable_size(x: torch.Tensor, multiple: int, owner: str) -> None:
    """Cached trunk features are computed on the unpadded image, so with them the input must need no padding."""
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise CrossspecError(f"{owner}: with cached trunk features the input must be a multiple of {multiple} "
                             f"pixels on each side, got {h}x{w}")


class VGG16Trunk(nn.Module):
    """VGG16 ``features`` returning the output of each of its first ``stages`` stages.

    Args:
        stages: how many stages to run (1-5); deeper stages are not built.
        frozen_stages: the first ``frozen_stages`` stages get ``requires_grad=False`` and, when the
            input needs no gradient, run without autograd, so a fully frozen trunk costs only its
            forward pass.
        input_conv: ``"replicate"`` (the band to three channels, ImageNet normalisation, first
            convolution as trained) or ``"learned"`` (a one-channel first convolution folded from it
            and always trained; see the module docstring).

    ``forward``: ``(B, 1, H, W)`` in [0, 1] -> list of ``stages`` tensors ``(B, C_s, H/2**(s-1),
    W/2**(s-1))`` (``H, W`` multiples of ``2**(stages-1)``).
    """

    def __init__(self, stages: int = 5, frozen_stages: int = 0, input_conv: str = "replicate") -> None:
        super().__init__()
        if not 1 <= stages <= 5:
            raise ValueError(f"stages must be in 1..5, got {stages}")
        if not 0 <= frozen_stages <= stages:
            raise ValueError(f"frozen_stages must be in 0..{stages}, got {frozen_stages}")
        if input_conv not in INPUT_CONVS:
            raise ValueError(f"input_conv must be one of {', '.join(INPUT_CONVS)}, got {input_conv!r}")
        features, cuts = vgg16_features()
        self.input_conv = input_conv
        if input_conv == "learned":
            features[0] = nn.Conv2d(1, VGG16_CFG[0], 3, padding=1)  # type: ignore[arg-type]
        self.features = features[: cuts[stages - 1]]
        self.bounds = [0] + cuts[:stages]
        self.stages, self.frozen_stages = stages, frozen_stages
        self.arch = "vgg16"  # the name crossspec.io.imagenet_weights knows its files by
        self.channels = STAGE_CHANNELS[:stages]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for i in range(self.bounds[frozen_stages]):
            if i == 0 and input_conv == "learned":
                continue
            for p in self.features[i].parameters():
                p.requires_grad_(False)

    def load_imagenet(self, features_state: dict[str, torch.Tensor]) -> None:
        """Load torchvision ``features.*`` tensors (prefix stripped); keys beyond the built stages
        are ignored, every built layer must be present with its exact shape."""
        own = self.features.state_dict()
        missing = [k for k in own if k not in features_state]
        if missing:
            raise ValueError(f"VGG16 weights lack {', '.join(missing[:4])} (need stages 1..{self.stages})")
        state = {k: features_state[k] for k in own}
        if self.input_conv == "learned":
            state["0.weight"], state["0.bias"] = self._fold_input(state["0.weight"], state["0.bias"])
        self.features.load_state_dict(state, strict=True)

    def _fold_input(self, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ImageNet ``conv1_1`` ``(64, 3, 3, 3)`` -> the one-channel ``(64, 1, 3, 3)`` convolution
        that gives the same output on ``x`` as the original on the normalised, replicated ``x``."""
        if w.shape[1] != 3:
            raise ValueError(f"VGG16 weights: conv1_1 has {w.shape[1]} input channels, expected 3 (torchvision layout)")
        scale = (1.0 / self.std).view(1, 3, 1, 1).to(w.dtype)
        shift = (self.mean / self.std).view(1, 3, 1, 1).to(w.dtype)
        return (w * scale).sum(1, keepdim=True), b - (w * shift).sum((1, 2, 3))

    def cacheable_stages(self) -> tuple[int, ...]:
        """Stages (0-based) whose outputs a training run may precompute once per image: the frozen
        ones but the first, which holds half the bytes of all five for an eighth of their compute
        and so is cheaper to run again than to keep. None with a learned input convolution: every
        stage then depends on it."""
        if self.input_conv == "learned":
            return ()
        return tuple(range(1, self.frozen_stages))

    @torch.no_grad()
    def cache_features(self, x: torch.Tensor, size_multiple: int, owner: str) -> dict[int, torch.Tensor]:
        """``(B, 1, H, W)`` in [0, 1] -> ``{stage: (B, C_s, H/2**s, W/2**s)}`` for
        :meth:`cacheable_stages` (``{}`` when none). ``H, W`` must be multiples of the owning model's
        ``size_multiple``: the model pads other sizes, and cached features must match what it pads
        (``CrossspecError`` naming ``owner`` otherwise)."""
        stages = self.cacheable_stages()
        if not stages:
            return {}
        check_cacheable_size(x, size_multiple, owner)
        feats = self(x, stages=max(stages) + 1)
        return {s: feats[s] for s in stages}

    def forward(self, x: torch.Tensor, cached: Mapping[int, torch.Tensor] | None = None,
                stages: int | None = None, outputs_from: int = 0) -> list[torch.Tensor | None]:
        """``cached`` maps a stage (0-based) to its precomputed output for this ``x`` (frozen stages
        only); such a stage is taken from it instead of being run, and the next stage starts from it.
        ``stages`` stops after that many stages (default: all that were built). Stages before
        ``outputs_from`` are wanted only as the way to later ones: they run only when the next
        stage runs, and their entries are ``None`` when it is cached."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"VGG16Trunk expects (B, 1, H, W), got {tuple(x.shape)}")
        cached = cached or {}
        wrong = [s for s in cached if not 0 <= s < self.frozen_stages]
        if wrong:
            raise ValueError(f"cached stages {wrong} are not frozen stages of this trunk (frozen: 0..{self.frozen_stages - 1})")
        n = self.stages if stages is None else min(stages, self.stages)
        run = [False] * (n + 1)
        for s in reversed(range(n)):
            run[s] = s not in cached and (s >= outputs_from or run[s + 1])
        y = x if self.input_conv == "learned" else (x.expand(-1, 3, -1, -1) - self.mean) / self.std
        outs: list[torch.Tensor | None] = []
        # Frozen stages build no graph, unless a gradient must cross them (to the input, e.g. from a
        # translator that feeds this encoder, or to a learned first convolution), in which case they
        # pass it through with their weights fixed.
        through = x.requires_grad or self.input_conv == "learned"
        for s in range(n):
            if s in cached:
                y = cached[s]
                outs.append(y)
                continue
            if not run[s]:
                outs.append(None)
                continue
            lo, hi = self.bounds[s], self.bounds[s + 1]
            with torch.set_grad_enabled(torch.is_grad_enabled() and (through or s >= self.frozen_stages)):
                for i in range(lo, hi):
                    y = self.features[i](y)
            outs.append(y)
        return outs
