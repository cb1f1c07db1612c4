"""Cross-domain cooperative colorization (after CoColor, Yang et al., ACM MM 2023; no public code).

Three networks in one module: ``nir2gray`` and ``gray2nir`` translators and one shared
ColorMamba colorizer told which domain it sees (``num_domains=2``). At inference
``forward(x, domain)`` colorizes ``x`` directly in its own domain. In training,
:meth:`CooperativeColorizer.cooperative_forward` runs everything the cooperative losses
(:mod:`crossspec.losses.cooperative`) need in one batched colorizer call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from crossspec.color import rgb_to_luminance
from crossspec.models.cocolor.translator import Translator
from crossspec.models.colormamba.domain import DOMAIN_INDEX
from crossspec.models.colormamba.model import ColorMamba


@dataclass(frozen=True)
class Plan:
    """Which parts of the cooperative forward a set of loss weights needs."""

    # nir2gray(NIR) and gray2nir(gray) run whenever any field is set
    translate: bool = False        # also gray2nir(gray of the pair), for the paired translation term
    cycle: bool = False            # also the round trips
    colorize_translations: bool = False  # also the colorizer on nir2gray(NIR) and gray2nir(gray)


class CooperativeColorizer(nn.Module):
    """``forward(x (B,1,H,W) in [0,1], domain="nir"|"gray")`` -> RGB ``(B,3,H,W)`` in [0, 1].

    ``colorizer`` holds the :class:`ColorMamba` keyword arguments, ``translator`` those of
    :class:`Translator` (shared by both directions). With ``rgb_encoder="vgg16"`` among the
    colorizer's, its ImageNet trunk is :attr:`encoder` and :meth:`load_encoder` fills it
    (``model.encoder_weights``).
    """

    def __init__(self, colorizer: dict[str, Any], translator: dict[str, Any]) -> None:
        super().__init__()
        self.colorizer = ColorMamba(**{**colorizer, "num_domains": len(DOMAIN_INDEX)})
        self.nir2gray = Translator("nir", "gray", **translator)
        self.gray2nir = Translator("gray", "nir", **translator)
        self.size_multiple = self.colorizer.size_multiple

    @property
    def encoder(self) -> nn.Module | None:
        """The colorizer's pretrained trunk (``None`` with its default conv encoder)."""
        return self.colorizer.encoder

    def load_encoder(self, features_state: dict[str, torch.Tensor]) -> None:
        """Load ImageNet VGG16 ``features.*`` tensors (prefix stripped) into the colorizer's trunk."""
        self.colorizer.load_encoder(features_state)

    def forward(self, x: torch.Tensor, domain: str = "nir") -> torch.Tensor:
        return self.colorizer(x, domain)

    def forward_train(self, x: torch.Tensor, domain: str = "nir") -> dict:
        return self.colorizer.forward_train(x, domain)

    def cooperative_forward(self, batch: dict[str, torch.Tensor], plan: Plan) -> dict[str, Any]:
        """Everything the cooperative losses read, for a paired NIR batch and a gray batch.

        ``batch``: ``input`` NIR (B,1,H,W), ``target`` its RGB (B,3,H,W), ``gray_input`` gray
        (B',1,H,W), ``gray_target`` its RGB. Returns colorizer outputs (dicts with ``rgb``,
        ``hsv``, ``features``) under ``nir``, ``gray`` and, with ``plan.colorize_translations``,
        ``nir_via_gray`` (colorize(nir2gray(NIR)) as gray) and ``gray_via_nir``; translator
        outputs under ``n2g``, ``g2n``, ``g2n_pair`` (gray2nir of the pair's luminance),
        ``cycle_nir``, ``cycle_gray``.
        """
        nir, gray = batch["input"], batch["gray_input"]
        out: dict[str, Any] = {}
        inputs, domains, names = [nir, gray], ["nir", "gray"], ["nir", "gray"]
        if plan.translate or plan.cycle or plan.colorize_translations:
            out["n2g"] = self.nir2gray(nir)
            out["g2n"] = self.gray2nir(gray)
            if plan.translate:
                out["g2n_pair"] = self.gray2nir(rgb_to_luminance(batch["target"]))
            if plan.cycle:
                out["cycle_nir"] = self.gray2nir(out["n2g"])
                out["cycle_gray"] = self.nir2gray(out["g2n"])
            if plan.colorize_translations:
                inputs += [out["n2g"], out["g2n"]]
                domains += ["gray", "nir"]
                names += ["nir_via_gray", "gray_via_nir"]
        sizes = [t.shape[0] for t in inputs]
        idx = torch.cat([torch.full((n,), DOMAIN_INDEX[d], dtype=torch.long, device=nir.device)
                         for n, d in zip(sizes, domains)])
        # One colorizer call over all views: fewer, larger kernels, and InstanceNorm keeps the
        # images independent of each other.
        res = self.colorizer.forward_train(torch.cat(inputs), idx)
        for name, part in zip(names, _split(res, sizes)):
            out[name] = part
        return out


def _split(res: dict, sizes: list[int]) -> list[dict]:
    parts: list[dict] = [{} for _ in sizes]
    for key, value in res.items():
        chunks = ([list(c) for c in zip(*(v.split(sizes) for v in value))] if isinstance(value, list)
                  else value.split(sizes))
        for p, c in zip(parts, chunks):
            p[key] = c
    return parts


# Builders ---------------------------------------------------------------------------------------

def _split_kwargs(kw: dict[str, Any], colorizer_defaults: dict, translator_defaults: dict):
    """``translator_*`` keywords go to the translators, the rest to the colorizer."""
    tr = {k[len("translator_"):]: v for k, v in kw.items() if k.startswith("translator_")}
    col = {k: v for k, v in kw.items() if not k.startswith("translator_")}
    return {**colorizer_defaults, **col}, {**translator_defaults, **tr}


TRANSLATOR_SMALL = dict(width=8, levels=3)
TRANSLATOR_PAPER = dict(width=32, levels=4, mamba_levels=(3,))
TRANSLATOR_TINY = dict(width=4, levels=2)


def build_cocolor(**kw) -> CooperativeColorizer:
    """Paper-size ColorMamba colorizer shared by both domains, Mamba translators."""
    from crossspec.models.colormamba.model import PAPER

    return CooperativeColorizer(*_split_kwargs(kw, PAPER, TRANSLATOR_PAPER))


def build_cocolor_small(**kw) -> CooperativeColorizer:
    """CPU-trainable: ColorMamba-small colorizer, small conv translators."""
    from crossspec.models.colormamba.model import SMALL

    return CooperativeColorizer(*_split_kwargs(kw, SMALL, TRANSLATOR_SMALL))


def build_translator(source: str, target: str):
    def build(**kw) -> Translator:
        return Translator(source, target, **{**TRANSLATOR_SMALL, **kw})

    build.__doc__ = f"{source} -> {target} translator (small conv U-Net, identity at init)"
    return build
