"""A third kind of training, defined outside the package: hint-guided colorization.

The model sees the input plus a few true colours ("hints") at random pixels, as interactive
colorization methods do, and must spread them. Everything the trainer needs is in
:class:`HintTask`; :func:`register` adds it and a tiny model that uses it to the registries.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from crossspec.engine.schedule import lr_factor
from crossspec.engine.tasks import TrainingTask
from crossspec.engine.tasks.base import color_loss

TASK = "test-hints"
MODEL = "test-hint-colorizer"


class HintColorizer(nn.Module):
    """``forward(x (B,1,H,W), hints (B,3,H,W) | None, mask (B,1,H,W) | None)`` -> RGB (B,3,H,W) in [0,1]."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(5, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 3, padding=1))

    def forward(self, x: torch.Tensor, hints: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        if hints is None:  # plain colorization (validation, inference): no hint anywhere
            hints, mask = x.new_zeros(x.shape[0], 3, *x.shape[-2:]), x.new_zeros(x.shape[0], 1, *x.shape[-2:])
        return torch.sigmoid(self.net(torch.cat([x, hints * mask, mask], 1)))


class WithHints(Dataset):
    """Each paired sample plus ``hint_mask`` (1,H,W): ``count`` random pixels whose colour is given."""

    def __init__(self, paired: Dataset, count: int = 4) -> None:
        self.paired, self.count = paired, count

    def __len__(self) -> int:
        return len(self.paired)

    def __getitem__(self, i: int) -> dict:
        s = dict(self.paired[i])
        h, w = s["input"].shape[-2:]
        mask = torch.zeros(1, h * w)
        mask[0, torch.randperm(h * w)[: self.count]] = 1.0  # seeded per (seed, epoch, index) by the engine
        s["hint_mask"] = mask.view(1, h, w)
        return s


class HintTask(TrainingTask):
    def train_set(self, paired: Dataset) -> Dataset:
        return WithHints(paired)

    def build_loss(self, device: torch.device) -> None:
        self.color_loss = color_loss(self.cfg).to(device)

    def lr_lambdas(self, steps_per_epoch: int, total: int):
        return lambda s: lr_factor(self.cfg, s, steps_per_epoch, total)

    def model_forward(self, model: nn.Module, x, hints, mask):
        return {"rgb": model(x, hints, mask)}

    def forward(self, net: nn.Module, batch, step: int):
        return net(batch["input"], batch["target"], batch["hint_mask"])

    def loss(self, outputs, batch, step: int):
        return self.color_loss(outputs, batch["target"])

    def gan_view(self, outputs, batch):
        return batch["input"], outputs, batch["target"]


def register(monkeypatch) -> None:
    """Register the task and its model for one test (``monkeypatch`` undoes both afterwards)."""
    from crossspec.engine.tasks import registry as tasks
    from crossspec.models import registry as models

    monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))
    monkeypatch.setattr(tasks, "_TASKS", dict(tasks._TASKS))
    tasks.register_task(TASK, HintTask)
    models.register_model(MODEL, description="colorizer guided by a few true colours", domains=("nir",),
                          tiny={"width": 4}, task=TASK)(HintColorizer)
