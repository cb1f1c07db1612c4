"""A test colorizer that paints each hint's colour where it lies and gray elsewhere, so a test can
see where the hints reached the model (registered for one test with :func:`register`)."""
from __future__ import annotations

import torch
import torch.nn as nn

from crossspec.color import gray_to_rgb, lab_to_rgb, rgb_to_lab
from crossspec.ops.hint_map import AB_SCALE

MODEL = "test-hint-echo"


class HintEcho(nn.Module):
    """``forward(x (B,1,H,W), hints=(ab, mask) | None)``: the input as gray, and at hinted pixels the
    input's lightness with the hint's ab."""

    takes_hints = True

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # something to put on a device

    def forward(self, x: torch.Tensor, hints=None) -> torch.Tensor:
        gray = gray_to_rgb(x) * self.scale
        if hints is None:
            return gray
        ab, mask = hints
        lab = rgb_to_lab(gray)
        painted = lab_to_rgb(torch.cat([lab[:, :1], ab * AB_SCALE], 1))
        return torch.where(mask > 0, painted, gray)


def register(monkeypatch) -> None:
    from crossspec.models import registry as models

    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))
    models.register_model(MODEL, description="paints the hints (tests)", domains=("nir", "gray"))(HintEcho)
