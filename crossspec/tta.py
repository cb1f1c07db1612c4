"""Test-time augmentation by mirroring: average a colorizer's output for an image and its mirror image.

Only the left-right mirror is used, because it is the one augmentation the training recipes apply
(``data.hflip``): a vertical flip or a rotation puts the sky at the bottom, which the models never see
in training, so averaging over them would mix in out-of-distribution predictions. The mirror costs a
second forward pass. Directional models (ColorMamba's scans, padding at the bottom/right) give a
different prediction for the mirrored input, and the average is less noisy than either alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from crossspec.errors import ConfigError

if TYPE_CHECKING:  # annotations only: the CLI imports TTA_MODES and should not pay for torch
    import torch

TTA_MODES = ("none", "hflip")


def check_tta(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`TTA_MODES`, else raise a ``ConfigError`` naming them."""
    if mode not in TTA_MODES:
        raise ConfigError(f"--tta: {mode!r} is not one of {', '.join(TTA_MODES)}")
    return mode


def with_tta(run: Callable[[torch.Tensor], torch.Tensor], mode: str = "none"
             ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Wrap ``run: (B, C, H, W) -> (B, 3, H, W)`` so that with ``mode="hflip"`` it returns, in float32,
    the mean of ``run(x)`` and the mirrored ``run(x.flip(-1))``; with ``"none"``, ``run`` itself.

    ``run`` should see the unpadded image: pad inside it, so that the mirrored input is padded on the
    same side as the original.
    """
    if check_tta(mode) == "none":
        return run

    def mirrored(x: torch.Tensor) -> torch.Tensor:
        return (run(x).float() + run(x.flip(-1)).float().flip(-1)) * 0.5

    return mirrored
