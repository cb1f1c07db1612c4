"""Turning a user's ``--device`` into a torch device, with one set of rules for every command."""
from __future__ import annotations

import torch

from crossspec.errors import ConfigError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``None``/``"auto"`` -> CUDA when available, else CPU; a CUDA request without CUDA is an error."""
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"--device: {name!r} is not a torch device ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device: {name!r} requested but CUDA is not available on this machine")
    return dev
