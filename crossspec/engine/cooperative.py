"""What the training engine needs for cooperative (``cocolor*``) models: a gray batch beside
every NIR batch, progressive stages (term weights, frozen parts, a schedule per stage) and the
cooperative objective.

A stage is a pure function of the global step, so a resumed run lands in the same stage with the
same learning rates; freezing is a learning rate of zero for that part's parameter group (the
optimizer state stays complete, which keeps checkpoints and DDP uniform across stages).
"""
from __future__ import annotations

import logging
from typing import Any, Callable

import torch
import torch.nn as nn
from torch.utils.data import ConcatDataset, Dataset

from crossspec.color import rgb_to_luminance
from crossspec.config import Config, StageConfig
from crossspec.errors import ConfigError

log = logging.getLogger("crossspec")

GROUPS = ("colorizer", "nir2gray", "gray2nir")  # one optimizer parameter group each
FREEZABLE = (*GROUPS, "translators")  # what a stage's ``frozen`` may name


# -- data ------------------------------------------------------------------------------------

class AsGray(Dataset):
    """The RGB targets of a paired dataset as gray-domain samples (input = their luminance)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self.dataset[i]
        return {**s, "input": rgb_to_luminance(s["target"]), "domain": "gray"}


class WithGray(Dataset):
    """Each paired NIR sample plus one gray sample (``gray_input`` (1,H,W), ``gray_target``
    (3,H,W)) drawn from ``pool`` with the torch RNG, which
    :class:`~crossspec.engine.data.SeededDataset` seeds per ``(seed, epoch, index)``: the draw
    is reproducible and resumable."""

    def __init__(self, paired: Dataset, pool: Dataset) -> None:
        self.paired, self.pool = paired, pool

    def __len__(self) -> int:
        return len(self.paired)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = dict(self.paired[i])
        g = self.pool[int(torch.randint(len(self.pool), ()))]  # type: ignore[arg-type]
        s["gray_input"], s["gray_target"] = g["input"], g["target"]
        return s


def build_gray_pool(cfg: Config, paired_train: Dataset) -> Dataset:
    """The gray-domain training images: the pairs' RGB (``data.gray_from_pairs``) and every
    ``data.gray_sources`` entry, with the training augmentation; checked before training."""
    from crossspec.engine.data import _build, check_dataset, train_transforms

    d = cfg.data
    parts: list[Dataset] = []
    if d.gray_from_pairs:
        parts.append(AsGray(paired_train))
    for i, src in enumerate(d.gray_sources):
        where = f"data.gray_sources[{i}] ({src.dataset} {src.root})"
        ds = _build(src.dataset, src.root, src.split, "gray", src.kwargs, train_transforms(d))
        check_dataset(ds, split=where, crop=d.crop, domain="gray")
        parts.append(ds)
    if not parts:
        raise ConfigError("data.gray_sources: a cooperative model needs gray images; add a source or set "
                          "data.gray_from_pairs: true")
    pool = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    log.info("gray-domain pool: %d images (%s)", len(pool),
             ", ".join(f"{type(p).__name__} {len(p)}" for p in parts))  # type: ignore[arg-type]
    return pool


# -- stages ----------------------------------------------------------------------------------

def stage_at(stages: list[StageConfig], step: int) -> tuple[int, int]:
    """``(stage index, first step of that stage)`` for 0-based optimizer step ``step``."""
    start = 0
    for i, st in enumerate(stages):
        if step < start + st.steps or i == len(stages) - 1:
            return i, start
        start += st.steps
    raise ConfigError("stages: empty")


def frozen_groups(stage: StageConfig) -> set[str]:
    out = set(stage.frozen)
    if "translators" in out:
        out |= {"nir2gray", "gray2nir"}
    return out & set(GROUPS)


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """One optimizer parameter group per part (``GROUPS`` order), each tagged with its name."""
    return [{"params": list(getattr(model, g).parameters()), "name": g} for g in GROUPS]


def stage_lr_lambdas(cfg: Config, steps_per_epoch: int,
                     lr_factor: Callable[[Config, int, int, int], float]) -> list[Callable[[int], float]]:
    """Per-group multipliers of ``train.lr``: the run's schedule restarted in every stage, times
    the stage's ``lr / train.lr``, and 0 for a part the stage freezes."""
    stages = cfg.stages

    def make(group: str) -> Callable[[int], float]:
        def factor(step: int) -> float:
            i, start = stage_at(stages, step)
            st = stages[i]
            if group in frozen_groups(st):
                return 0.0
            scale = (st.lr or cfg.train.lr) / cfg.train.lr
            return scale * lr_factor(cfg, step - start, steps_per_epoch, st.steps)

        return factor

    return [make(g) for g in GROUPS]


# -- objective -------------------------------------------------------------------------------

class CooperativeObjective:
    """``forward(net, batch, step)`` runs what the current stage's terms need; ``loss`` weighs
    them; ``gan_view`` is the NIR path (input, outputs, target) for the optional PatchGANs."""

    def __init__(self, cfg: Config, color_loss: nn.Module) -> None:
        from crossspec.losses.cooperative import CooperativeLoss

        self.stages = cfg.stages
        self.loss_module = CooperativeLoss(color_loss)
        self._current = -1

    def stage(self, step: int) -> StageConfig:
        i, start = stage_at(self.stages, step)
        if i != self._current:
            st = self.stages[i]
            frozen = sorted(frozen_groups(st))
            log.info("step %d: stage %d/%d %r (%d steps): %s%s", step, i + 1, len(self.stages), st.name, st.steps,
                     ", ".join(f"{k}={w:g}" for k, w in st.weights.items()),
                     f"; frozen: {', '.join(frozen)}" if frozen else "")
            self._current = i
        return self.stages[i]

    def forward(self, net: nn.Module, batch: dict[str, torch.Tensor], step: int) -> dict[str, Any]:
        from crossspec.losses.cooperative import plan_for

        return net(batch, plan=plan_for(self.stage(step).weights))

    def loss(self, outputs: dict[str, Any], batch: dict[str, torch.Tensor], step: int):
        return self.loss_module(outputs, batch, self.stage(step).weights)

    @staticmethod
    def gan_view(outputs: dict[str, Any], batch: dict[str, torch.Tensor]):
        return batch["input"], outputs["nir"], batch["target"]
