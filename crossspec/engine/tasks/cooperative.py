"""Cooperative cross-domain training (``task="cooperative"``, the ``cocolor*`` models).

What differs from supervised colorization, all here:

- data: every paired NIR sample comes with one gray-domain sample drawn from a pool (the pairs'
  RGB as luminance and ``data.gray_sources``);
- stages (``cfg.stages``): term weights of :mod:`crossspec.losses.cooperative`, frozen parts and a
  schedule restarted per stage; checked here (:func:`check_stages`);
- one parameter group per part (``colorizer``, ``nir2gray``, ``gray2nir``); freezing is a learning
  rate of zero for that group, so the optimizer state stays complete and checkpoints and DDP stay
  uniform across stages (DDP looks for unused parameters: a stage may leave parts idle);
- forward: ``cooperative_forward(batch, plan)`` runs what the stage's terms need; the
  discriminators see the NIR path.

A stage is a pure function of the global step, so a resumed run lands in the same stage with the
same learning rates.
"""
from __future__ import annotations

import difflib
import logging
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn
from torch.utils.data import ConcatDataset, Dataset

from crossspec.color import rgb_to_luminance
from crossspec.config import Config, StageConfig
from crossspec.engine.data import build_split, check_dataset, train_transforms
from crossspec.engine.schedule import lr_factor
from crossspec.engine.tasks.base import Batch, LrLambda, TrainingTask, color_loss
from crossspec.engine.tasks.registry import mark_not_trainable, register_task
from crossspec.errors import ConfigError
from crossspec.losses.cooperative import TERMS, CooperativeLoss
from crossspec.models.cocolor import Plan

log = logging.getLogger("crossspec")

GROUPS = ("colorizer", "nir2gray", "gray2nir")  # one optimizer parameter group each
FREEZABLE = (*GROUPS, "translators")  # what a stage's ``frozen`` may name


# -- config ----------------------------------------------------------------------------------

def check_stages(cfg: Config) -> None:
    """The cooperative vocabulary of ``cfg.stages``: known loss terms, freezable parts (the
    config checks the rest: names, steps, weights >= 0, learning rates)."""
    if not cfg.stages:
        raise ConfigError(f"stages: {cfg.model.name!r} trains in stages; add a stages: section "
                          "(see configs/nir/cooperative.yaml)")
    for i, st in enumerate(cfg.stages):
        where = f"stages[{i}] ({st.name})"
        if not st.weights:
            raise ConfigError(f"{where}.weights: give at least one term; known: {', '.join(TERMS)}")
        for term in st.weights:
            if term not in TERMS:
                close = difflib.get_close_matches(term, list(TERMS), n=1, cutoff=0.5)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(TERMS)}"
                raise ConfigError(f"{where}.weights.{term}: unknown loss term{hint}")
        for part in st.frozen:
            if part not in FREEZABLE:
                raise ConfigError(f"{where}.frozen: unknown part {part!r}; choose from {', '.join(FREEZABLE)}")


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
    d = cfg.data
    parts: list[Dataset] = []
    if d.gray_from_pairs:
        parts.append(AsGray(paired_train))
    for i, src in enumerate(d.gray_sources):
        where = f"data.gray_sources[{i}] ({src.dataset} {src.root})"
        ds = build_split(src.dataset, src.root, src.split, "gray", src.kwargs, train_transforms(d))
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
                     lr_factor: Callable[[Config, int, int, int], float] = lr_factor) -> list[LrLambda]:
    """Per-group multipliers of ``train.lr``: the run's schedule restarted in every stage, times
    the stage's ``lr / train.lr``, and 0 for a part the stage freezes."""
    stages = cfg.stages

    def make(group: str) -> LrLambda:
        def factor(step: int) -> float:
            i, start = stage_at(stages, step)
            st = stages[i]
            if group in frozen_groups(st):
                return 0.0
            scale = (st.lr or cfg.train.lr) / cfg.train.lr
            return scale * lr_factor(cfg, step - start, steps_per_epoch, st.steps)

        return factor

    return [make(g) for g in GROUPS]


def plan_for(weights: Mapping[str, float]) -> Plan:
    """The :class:`~crossspec.models.cocolor.Plan` (what ``cooperative_forward`` runs) for these term weights."""
    on = {k for k, w in weights.items() if w > 0}
    return Plan(translate="translate" in on, cycle="cycle" in on,
                colorize_translations=bool(on & {"translated_color", "pixel_consistency", "feature_consistency"}))


# -- the task --------------------------------------------------------------------------------

class CooperativeTask(TrainingTask):
    find_unused_parameters = True  # a stage may leave parts unused (e.g. no translator term in stage 1)

    def __init__(self, cfg: Config, entry: Any) -> None:
        super().__init__(cfg, entry)
        self.stages = cfg.stages
        self._current = -1

    def check_config(self) -> None:
        check_stages(self.cfg)
        if self.cfg.train.encoder_lr_scale != 1.0:
            # the colorizer is one parameter group, its pretrained trunk included
            raise ConfigError(f"train.encoder_lr_scale: {self.cfg.model.name!r} trains in per-part groups "
                              "(colorizer, translators), not a separate encoder group; leave it at 1.0 and "
                              "freeze trunk stages with model.kwargs.rgb_frozen_stages")

    def train_set(self, paired: Dataset) -> Dataset:
        return WithGray(paired, build_gray_pool(self.cfg, paired))

    def build_loss(self, device: torch.device) -> None:
        self.loss_module = CooperativeLoss(color_loss(self.cfg).to(device))

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        return param_groups(model)

    def lr_lambdas(self, steps_per_epoch: int, total: int) -> list[LrLambda]:
        return stage_lr_lambdas(self.cfg, steps_per_epoch)

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

    def model_forward(self, model: nn.Module, batch: Batch, plan: Plan) -> dict[str, Any]:
        return model.cooperative_forward(batch, plan)

    def forward(self, net: nn.Module, batch: Batch, step: int) -> dict[str, Any]:
        return net(batch, plan=plan_for(self.stage(step).weights))

    def loss(self, outputs: dict[str, Any], batch: Batch, step: int):
        return self.loss_module(outputs, batch, self.stage(step).weights)

    def gan_view(self, outputs: dict[str, Any], batch: Batch):
        return batch["input"], outputs["nir"], batch["target"]


register_task("cooperative", CooperativeTask)
mark_not_trainable("translate", "is a domain translator; it trains inside a cooperative model "
                                "(model.name: cocolor-small, see configs/nir/cooperative.yaml)")
