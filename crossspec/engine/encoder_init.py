"""Initialising a fresh model's encoder from ImageNet weights (the trainer's only file read for it)."""
from __future__ import annotations

import logging

import torch.nn as nn

from crossspec.config import ModelConfig
from crossspec.errors import ConfigError, CrossspecError
from crossspec.io.hashing import sha256_file
from crossspec.io.imagenet_weights import load_features_state, resolve_trunk_weights

log = logging.getLogger("crossspec")


def load_pretrained_encoder(model: nn.Module, mcfg: ModelConfig) -> dict[str, str]:
    """Load ``mcfg.encoder_weights`` into ``model``'s encoder; returns ``{"file", "sha256"}``.

    ``"auto"`` looks up the environment variable and the torch hub cache; a path is used as given.
    """
    load = getattr(model, "load_encoder", None)
    arch = getattr(getattr(model, "encoder", None), "arch", None)
    if load is None or arch is None:
        raise ConfigError(f"model.encoder_weights: {mcfg.name!r} has no pretrained encoder to load weights into")
    explicit = None if mcfg.encoder_weights == "auto" else mcfg.encoder_weights
    path = resolve_trunk_weights(arch, explicit, download=mcfg.download_weights)
    try:
        load(load_features_state(path))
    except ValueError as exc:
        raise CrossspecError(f"{path}: {exc}") from exc
    digest = sha256_file(path)
    log.info("encoder: ImageNet %s weights from %s (sha256 %s)", arch, path, digest[:12])
    return {"file": str(path), "sha256": digest}
