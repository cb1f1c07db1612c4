"""What a run reports: a JSONL log, TensorBoard scalars and image grids, a progress bar, previews.

Only the main process (rank 0) creates a :class:`RunLogger` that writes; other ranks get one with
``enabled=False`` whose methods do nothing.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossspec.io.atomic import atomic_path

log = logging.getLogger("crossspec")


def image_grid(inputs: torch.Tensor, preds: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """Rows of ``input | prediction | target`` with a 2-pixel white gutter.

    ``inputs (B,1,H,W)``, ``preds (B,3,H,W)``, ``targets (B,3,H,W)`` in [0, 1] -> ``(3, H', W')``.
    Images of different sizes in a batch are not supported (validation previews use one size).
    """
    rows = []
    for i in range(preds.shape[0]):
        cols = [inputs[i].expand(3, -1, -1), preds[i]] + ([targets[i]] if targets is not None else [])
        gap = torch.ones(3, preds.shape[-2], 2)
        row = []
        for c in cols:
            row += [c.detach().float().cpu().clamp(0, 1), gap]
        rows.append(torch.cat(row[:-1], dim=-1))
        rows.append(torch.ones(3, 2, rows[-1].shape[-1]))
    return torch.cat(rows[:-1], dim=-2)


def save_png(grid: torch.Tensor, path: str | Path) -> Path:
    """Write a ``(3, H, W)`` tensor in [0, 1] as an 8-bit PNG, atomically (replacing)."""
    from PIL import Image

    arr = (grid.permute(1, 2, 0).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    with atomic_path(path, overwrite=True) as tmp:
        Image.fromarray(arr).save(tmp)
    return Path(path)


class RunLogger:
    def __init__(self, run_dir: str | Path, *, enabled: bool, total_steps: int, start_step: int = 0,
                 progress: bool = True, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self._tb = None
        self._bar = None
        self._last_time = time.perf_counter()
        self._last_step = start_step
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / "log.jsonl", "a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a dependency, but a broken install should not stop training
                log.warning("tensorboard is not importable; logging to log.jsonl only")
            else:
                self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=start_step if start_step else None)
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step", dynamic_ncols=True)

    def set_total(self, total_steps: int) -> None:
        """The run's length changed (``train.minutes`` planned it)."""
        if self._bar is not None:
            self._bar.total = total_steps
            self._bar.refresh()

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        clean.setdefault("time", round(time.time(), 2))  # wall clock, so wall times come from the log
        self._jsonl.write(json.dumps(clean) + "\n")
        self._jsonl.flush()

    def train_step(self, step: int, scalars: dict[str, float], log_now: bool, epoch: int) -> None:
        """Advance the bar by one step; every ``log_now`` step also write JSONL and TensorBoard."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
        if not log_now:
            return
        now = time.perf_counter()
        its = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_step = now, step
        self.write({"kind": "train", "step": step, "epoch": epoch, "it_s": round(its, 3), **scalars})
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(f"train/{k}", v, step)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{scalars.get('loss', float('nan')):.4f}", it_s=f"{its:.2f}")

    def validation(self, step: int, metrics: dict[str, float], grid: torch.Tensor | None) -> None:
        if not self.enabled:
            return
        self.write({"kind": "val", "step": step, **metrics})
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(f"val/{k}", v, step)
            if grid is not None:
                self._tb.add_image("val/input|prediction|target", grid, step)
        msg = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
        self.message(f"step {step} validation: {msg}")

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text)
        else:
            log.info(text)

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        self._jsonl.close()
