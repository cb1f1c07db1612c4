"""Cooperative cross-domain family: ``cocolor`` / ``cocolor-small`` and the ``nir2gray`` /
``gray2nir`` translators."""
from crossspec.models.cocolor.model import (TRANSLATOR_TINY, CooperativeColorizer, Plan, build_cocolor,
                                            build_cocolor_small, build_translator)
from crossspec.models.cocolor.translator import Translator
from crossspec.models.colormamba.model import TINY
from crossspec.models.registry import register_model

_TINY = {**TINY, **{f"translator_{k}": v for k, v in TRANSLATOR_TINY.items()}}

register_model(
    "cocolor",
    description="Cooperative NIR/gray colorizer: one paper-size ColorMamba told its domain + NIR<->gray translators",
    domains=("nir", "gray"), tiny=_TINY, task="cooperative", takes_domain=True,
)(build_cocolor)
register_model(
    "cocolor-small",
    description="Cooperative NIR/gray colorizer with a ColorMamba-small colorizer, trainable on a CPU",
    domains=("nir", "gray"), tiny=_TINY, task="cooperative", takes_domain=True,
)(build_cocolor_small)
register_model(
    "nir2gray", description="NIR -> pseudo-gray translator (trained inside cocolor*)",
    domains=("nir",), tiny=TRANSLATOR_TINY, task="translate",
)(build_translator("nir", "gray"))
register_model(
    "gray2nir", description="gray -> pseudo-NIR translator (trained inside cocolor*)",
    domains=("gray",), tiny=TRANSLATOR_TINY, task="translate",
)(build_translator("gray", "nir"))

__all__ = ["CooperativeColorizer", "Plan", "Translator"]
