"""The learning-rate schedule of ``train.schedule``, as a multiplier of ``train.lr``."""
from __future__ import annotations

import math

from crossspec.config import Config


def lr_factor(cfg: Config, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """Multiplier of ``train.lr`` at optimizer step ``step`` (0-based) of a run of ``total_steps``:
    linear warm-up over ``train.warmup_steps``, then ``constant``, ``step`` or ``cosine``."""
    t = cfg.train
    warm = min(1.0, (step + 1) / t.warmup_steps) if t.warmup_steps > 0 else 1.0
    if t.schedule == "step":
        return warm * t.lr_gamma ** (step // max(1, t.lr_step_epochs * steps_per_epoch))
    if t.schedule == "cosine":
        floor = t.lr_min / t.lr
        progress = min(1.0, step / max(1, total_steps))
        return warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
    return warm
