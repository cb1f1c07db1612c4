"""Hint-guided colorization (``task="hint-colorize"``, Zhang et al. 2017): supervised colorization
whose model also sees a few true colours.

Each training sample gets hints simulated from its own target by
:func:`crossspec.ops.hint_sampling.sample_hints` (the paper's laws: a geometric number of hints with
p = 1/8, so one sample in eight has none; square patches of side 1..9; Gaussian positions around the
centre; the mean true ab over the patch). The draw happens inside the dataset, under the engine's
per-``(seed, epoch, index)`` RNG (:class:`crossspec.engine.data.SeededDataset`), after the sample's
own augmentation: the hints are a function of the seed, so a resumed run sees the same ones.

Everything else is :class:`~crossspec.engine.tasks.supervised.SupervisedTask`: the config's colour
loss on ``batch["target"]`` (valid pixels only for raster pairs, whose mask also limits where hints
are drawn), one parameter group, ``train.schedule``. Validation runs the model without hints
(automatic colorization), as every other model is validated; ``tools/bench_hints.py`` scores it
with hints.
"""
from __future__ import annotations

from typing import Any

import torch.nn as nn
from torch.utils.data import Dataset

from crossspec.color import rgb_to_lab
from crossspec.engine.tasks.base import Batch
from crossspec.engine.tasks.registry import register_task
from crossspec.engine.tasks.supervised import SupervisedTask
from crossspec.ops.hint_sampling import sample_hints


class WithSimulatedHints(Dataset):
    """Each sample of ``paired`` plus ``hint_ab`` ``(2, H, W)`` (a/110, b/110) and ``hint_mask``
    ``(1, H, W)`` drawn from its target with the global torch RNG (seeded per sample by the engine)."""

    def __init__(self, paired: Dataset) -> None:
        self.paired = paired

    def __len__(self) -> int:
        return len(self.paired)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = dict(self.paired[i])
        ab = rgb_to_lab(sample["target"].float())[1:]
        sample["hint_ab"], sample["hint_mask"] = sample_hints(ab, valid=sample.get("mask"))
        return sample


class HintGuidedTask(SupervisedTask):
    supports_trunk_cache = False  # its forward passes hints, not trunk features

    def train_set(self, paired: Dataset) -> Dataset:
        return WithSimulatedHints(paired)

    def forward(self, net: nn.Module, batch: Batch, step: int) -> dict[str, Any]:
        return net(batch["input"], (batch["hint_ab"], batch["hint_mask"]))


register_task("hint-colorize", HintGuidedTask)
