"""The input domains crossspec colorizes: the one table every check and CLI choice reads.

``nir``: a near-infrared band, ``(1, H, W)`` in [0, 1]; ``gray``: BT.601 luminance of an RGB image
(:func:`crossspec.color.rgb_to_luminance`), ``(1, H, W)`` in [0, 1].
"""
from __future__ import annotations

from crossspec.errors import CrossspecError

DOMAINS: tuple[str, ...] = ("nir", "gray")


def check_domain(domain: str, key: str = "domain", error: type[CrossspecError] = CrossspecError) -> str:
    """``domain`` when it is one of :data:`DOMAINS`; else ``error`` naming ``key``."""
    if domain not in DOMAINS:
        raise error(f"{key}: expected one of {', '.join(DOMAINS)}, got {domain!r}")
    return domain
