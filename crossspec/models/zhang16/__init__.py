"""Colorful Image Colorization (Zhang, Isola & Efros 2016): ab-bin classification with class
rebalancing and annealed-mean decoding. See :mod:`crossspec.models.zhang16.model`."""
from crossspec.models.registry import register_model
from crossspec.models.zhang16.model import Zhang16


@register_model(
    "zhang16",
    description="Zhang et al. 2016: ab-bin classification (262 in-gamut bins, annealed mean) on a frozen VGG16 "
                "trunk; lightness from the input (gray) or a regression head (nir); loss ab_ce (+ lightness_l1)",
    domains=("nir", "gray"),
    tiny={"trunk_stages": 3, "frozen_stages": 3, "width": 8, "dilations": (2,), "up_width": 8, "lightness_width": 8},
)
def zhang16(**kwargs) -> Zhang16:
    return Zhang16(**kwargs)


__all__ = ["Zhang16", "zhang16"]
