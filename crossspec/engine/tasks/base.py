"""The training-task protocol: everything that differs between kinds of training.

The trainer (:mod:`crossspec.engine.trainer`) runs one loop for every kind of model; a task owns
the rest. A task is picked once, from the model's registry entry (``ModelEntry.task``), through
:func:`crossspec.engine.tasks.task_for`. Methods are called in this order:

1. ``check_config()`` before any data is read (raise ``ConfigError`` naming the key);
2. ``train_set(paired)``: the training dataset the loop samples, from the checked paired one
   (a task may add samples to each item, e.g. a gray-domain draw);
3. ``build_loss(device)``, then ``param_groups(model)`` for Adam and ``lr_lambdas(steps_per_epoch,
   total)`` for ``LambdaLR`` (one factor of ``train.lr`` per group, or one for all);
4. every step: ``forward(net, batch, step)`` -> outputs (``net`` wraps the model; its ``forward``
   runs ``model_forward(model, *args)``, so DDP sees the call), ``loss(outputs, batch, step)`` ->
   ``(total, {term: value})``, and with ``gan.enabled`` ``gan_view(outputs, batch)`` -> ``(input,
   generator outputs with "rgb" (and "hsv"), target)`` for the discriminators.

``find_unused_parameters`` tells DDP whether a step may leave parameters without a gradient.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from crossspec.config import Config
from crossspec.models import ModelEntry

Batch = dict[str, torch.Tensor]
LrLambda = Callable[[int], float]


class TrainingTask:
    """Base of every training task; subclasses override what their kind of training changes."""

    find_unused_parameters: bool = False
    # whether forward passes a batch's cached trunk features on (train.cache_trunk)
    supports_trunk_cache: bool = False

    def __init__(self, cfg: Config, entry: ModelEntry) -> None:
        self.cfg, self.entry = cfg, entry

    def check_config(self) -> None:
        """Refuse config sections this task cannot honour (``ConfigError`` naming the key)."""

    def train_set(self, paired: Dataset) -> Dataset:
        """The dataset the loop samples; ``paired`` is the checked training split."""
        return paired

    def build_loss(self, device: torch.device) -> None:
        """Build the task's loss modules on ``device`` (called once, after the model and its EMA)."""
        raise NotImplementedError

    def param_groups(self, model: nn.Module) -> Iterable[Any]:
        """What Adam optimizes: ``model.parameters()`` or a list of parameter groups."""
        return model.parameters()

    def lr_lambdas(self, steps_per_epoch: int, total: int) -> LrLambda | list[LrLambda]:
        """``LambdaLR`` factors of ``train.lr``: one for all groups, or one per parameter group."""
        raise NotImplementedError

    def model_forward(self, model: nn.Module, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The model call the (possibly DDP-wrapped) training module makes."""
        raise NotImplementedError

    def forward(self, net: nn.Module, batch: Batch, step: int) -> dict[str, Any]:
        """Outputs of optimizer step ``step`` (0-based) on ``batch``; ``net(*args)`` runs ``model_forward``."""
        raise NotImplementedError

    def loss(self, outputs: dict[str, Any], batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(total, {term: unweighted value})`` for the logged terms."""
        raise NotImplementedError

    def gan_view(self, outputs: dict[str, Any], batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor],
                                                                        torch.Tensor]:
        """``(input (B,C,H,W), generator outputs {"rgb", ["hsv"]}, target (B,3,H,W))`` for the PatchGANs."""
        raise NotImplementedError


def color_loss(cfg: Config) -> nn.Module:
    """The run's colour loss, ``crossspec.losses.composite.ColorizationLoss`` from ``cfg.loss``:
    ``loss(outputs {"rgb", ...}, target (B,3,H,W), mask=None) -> (total, {term: value})``."""
    from crossspec.losses.composite import ColorizationLoss

    return ColorizationLoss.from_config({"weights": dict(cfg.loss.weights), **cfg.loss.options})
