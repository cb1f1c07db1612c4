"""Supervised colorization (``task="colorize"``): one domain, one colorizer, the config's colour loss.

``forward`` runs the model's training dict on ``batch["input"]`` (``forward_train(x)`` when the
model has it, else ``{"rgb": model(x)}``), passing the batch's cached trunk features as
``trunk_feats`` when it has them (``train.cache_trunk``); ``loss`` is ``cfg.loss`` on
``batch["target"]``, restricted to valid pixels when the batch has a ``mask`` (raster pairs), with
the batch's scene ``label`` when it has one (for the ``scene_ce`` term); the discriminators see
``(input, outputs, target)``. One parameter group, ``train.schedule`` over the whole run, or two
when ``train.encoder_lr_scale`` sets the encoder's rate apart.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from crossspec.engine.schedule import lr_factor
from crossspec.engine.tasks.base import Batch, LrLambda, TrainingTask, color_loss
from crossspec.engine.tasks.registry import register_task
from crossspec.engine.trunk_cache import trunk_features
from crossspec.errors import ConfigError


class SupervisedTask(TrainingTask):
    supports_trunk_cache = True

    def check_config(self) -> None:
        if self.cfg.stages:
            raise ConfigError(f"stages: only cooperative models (cocolor*) train in stages, not {self.cfg.model.name!r}")

    def build_loss(self, device: torch.device) -> None:
        self.color_loss = color_loss(self.cfg).to(device)

    def param_groups(self, model: nn.Module):
        """All parameters at ``train.lr``, but a pretrained encoder's at ``train.encoder_lr_scale``
        times it when that is not 1."""
        scale = self.cfg.train.encoder_lr_scale
        if scale == 1.0:
            return model.parameters()
        enc = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
        if not any(p.requires_grad for p in enc):
            raise ConfigError(f"train.encoder_lr_scale: {self.cfg.model.name!r} has no trainable encoder "
                              "parameters (named encoder.*) to scale")
        rest = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
        return [{"params": rest}, {"params": enc, "lr": self.cfg.train.lr * scale}]

    def lr_lambdas(self, steps_per_epoch: int, total: int) -> LrLambda:
        cfg = self.cfg
        return lambda s: lr_factor(cfg, s, steps_per_epoch, total)

    def model_forward(self, model: nn.Module, x: torch.Tensor, *extra: Any, **kw: Any) -> dict[str, Any]:
        """The model's training dict for ``x`` (and any extra inputs a task gives, e.g. hints, or
        cached trunk features as ``trunk_feats``)."""
        if hasattr(model, "forward_train"):
            return model.forward_train(x, *extra, **kw)
        return {"rgb": model(x, *extra, **kw)}

    def forward(self, net: nn.Module, batch: Batch, step: int) -> dict[str, Any]:
        trunk = trunk_features(batch)
        return net(batch["input"], trunk_feats=trunk) if trunk else net(batch["input"])

    def loss(self, outputs: dict[str, Any], batch: Batch, step: int):
        return self.color_loss(outputs, batch["target"], mask=batch.get("mask"), label=batch.get("label"))

    def gan_view(self, outputs: dict[str, Any], batch: Batch):
        return batch["input"], outputs, batch["target"]


register_task("colorize", SupervisedTask)
