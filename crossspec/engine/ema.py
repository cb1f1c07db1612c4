"""Exponential moving average of a model's weights (Polyak averaging), kept beside the model.

The average model is what validation, the preview and the saved ``ema.*`` weights use: it is
smoother than the raw weights, which matters most for GAN-trained colorizers.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


class ModelEMA:
    """``ema = decay * ema + (1 - decay) * weights`` after every optimizer step.

    The effective decay ramps up as ``min(decay, (1 + n) / (10 + n))`` over the first updates so
    a short run is not dominated by the random initialisation. Buffers (e.g. norm statistics) are
    copied, not averaged.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for ema_p, p in zip(self.module.parameters(), model.parameters()):
            ema_p.lerp_(p.detach(), 1.0 - d)
        for ema_b, b in zip(self.module.buffers(), model.buffers()):
            ema_b.copy_(b)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
