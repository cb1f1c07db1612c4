"""The training loop: plain PyTorch, readable top to bottom, the same for every kind of model.

    trainer = Trainer(cfg, run_dir="runs/quickstart")
    result = trainer.fit()          # -> TrainResult (checkpoints, final validation)

What differs between kinds of models (datasets, parameter groups and schedule, forward, loss, what
the discriminators see, DDP's needs) is the training task's (:mod:`crossspec.engine.tasks`), picked
once from the model's registry entry. :meth:`Trainer.fit` runs, in order:

1. :meth:`Trainer.setup`: pick the task (its config checks run before the run directory is
   touched); join the process group when launched by torchrun; seed torch / numpy / python;
   build and check the data (root present, images at least the crop, paired, right domain);
   build the model, its EMA copy, the loss, Adam, the learning-rate
   schedule, optionally two PatchGANs;
2. :meth:`Trainer.resume` (with ``resume``): reload ``checkpoints/last`` (weights, optimizer,
   schedule, EMA, RNG, position), refusing a checkpoint of another model, kwargs, domain or format
   version; then the resolved ``config.yaml`` is written and this session's provenance (code
   version, git commit, torch, device, threads) added to ``run.json`` (:mod:`crossspec.engine.run_provenance`);
3. :meth:`Trainer.step` per optimizer step: forward (bf16 autocast on CUDA, on CPU with
   ``train.bf16_cpu``), loss, NaN check, backward, gradient clipping, step, EMA update; then log,
   validate, checkpoint at their intervals;
4. :meth:`Trainer.finish`: validate the final weights, save ``last`` (and ``best`` by validation
   PSNR) and a preview PNG.

Determinism: the sample order is a function of ``(seed, epoch)`` and each sample's augmentation of
``(seed, epoch, index)`` (see :mod:`crossspec.engine.data`), the trainer's RNG states are saved in
every checkpoint, so on CPU a resumed run ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import logging
import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from crossspec.config import Config, save_config
from crossspec.engine import distributed as D
from crossspec.engine import run_checkpoint as ckpt
from crossspec.engine import run_provenance as provenance
from crossspec.engine.data import (ResumableBatchSampler, SeededDataset, build_datasets, check_dataset,
                                   check_input_channels)
from crossspec.engine.ema import ModelEMA
from crossspec.engine.encoder_init import load_pretrained_encoder
from crossspec.engine.gan import build_discriminators, discriminator_loss, generator_adv_loss
from crossspec.engine.logging import RunLogger, save_png
from crossspec.engine.schedule import lr_factor
from crossspec.engine.tasks import TrainingTask, task_for
from crossspec.engine.trunk_cache import TrunkCache
from crossspec.engine.validation_scores import score_model
from crossspec.errors import ConfigError, CrossspecError, file_error
from crossspec.models import create_model, get_entry

__all__ = ["RUN_FILES", "TrainResult", "Trainer", "TrainingError", "lr_factor", "prepare_run_dir"]

log = logging.getLogger("crossspec")

# Files a run directory holds; --overwrite removes exactly these.
RUN_FILES = ("config.yaml", "run.json", "log.jsonl", "preview.png", "checkpoints", "tb")


class TrainingError(CrossspecError):
    """Training had to stop (e.g. the loss became NaN)."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    last: Path | None = None
    best: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False


class _TrainForward(nn.Module):
    """Makes ``forward`` run the task's model call (its training dict), so DDP wraps the call it must see."""

    def __init__(self, model: nn.Module, task: TrainingTask) -> None:
        super().__init__()
        self.model = model
        self.task = task

    def forward(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.task.model_forward(self.model, *args, **kwargs)


def to_float(outputs: Any) -> Any:
    """Model outputs (nested dicts / lists of tensors, bf16 under autocast) as float32."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float()
    if isinstance(outputs, dict):
        return {k: to_float(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [to_float(v) for v in outputs]
    return outputs


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX); read from /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def cpu_bf16_ok() -> bool:
    # Without native bf16, oneDNN emulates it: a 3x3 convolution ran 12x (channels_last) to 90x
    # (NCHW) slower than fp32 on an AVX2 CPU here (BENCHMARKS.md), so fall back to fp32 and say so.
    if cpu_has_native_bf16():
        return True
    log.warning("train.bf16_cpu: this CPU has no native bf16 (avx512_bf16/amx_bf16 in /proc/cpuinfo); "
                "training in fp32")
    return False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_run_dir(run_dir: str | Path, *, resume: bool, overwrite: bool) -> Path:
    """Refuse to clobber a previous run unless ``resume`` (continue it) or ``overwrite`` (start over)."""
    run_dir = Path(run_dir)
    existing = [name for name in RUN_FILES if (run_dir / name).exists()]
    if resume:
        if not (run_dir / "checkpoints" / "last.safetensors").is_file():
            raise file_error(run_dir, "nothing to resume (no checkpoints/last.safetensors)", CrossspecError)
        return run_dir
    if existing and not overwrite:
        raise file_error(run_dir, "holds a previous run; pass --resume to continue it or --overwrite to start over",
                         CrossspecError)
    for name in existing:
        p = run_dir / name
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


class Trainer:
    """Train ``cfg.model`` on ``cfg.data`` into ``run_dir``.

    ``train_set`` / ``val_set`` replace the datasets named by the config (used as given: they
    carry their own transforms). ``step_hook(step)`` runs after every optimizer step (tests use
    it to simulate a kill). ``stop_after`` ends the run early after that many total steps
    (without final validation), as if the process had been stopped. ``train.max_minutes`` ends
    the session once that much wall-clock time has passed since ``fit`` began, with a final
    validation and ``last`` saved, so ``--resume`` continues the same run. ``train.minutes`` plans
    the run's length from the speed of its first steps (see `Trainer._plan_length`).
    """

    # steps timed before train.minutes fixes the run's length; the first PLAN_SKIP of them (memory
    # allocation, autotuning) are not counted
    PLAN_SKIP, PLAN_STEPS = 5, 20
    # share of the budget kept for validation, checkpoints and the final save; after the first
    # validation the plan is made again on the measured speed, validation included, keeping less
    PLAN_RESERVE, REPLAN_RESERVE = 0.08, 0.03

    def __init__(self, cfg: Config, run_dir: str | Path, *, device: str = "auto", resume: bool = False,
                 overwrite: bool = False, train_set: Dataset | None = None, val_set: Dataset | None = None,
                 progress: bool = True, step_hook: Callable[[int], None] | None = None) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.device_arg, self.resuming, self.overwrite = device, resume, overwrite
        self.train_set, self.val_set = train_set, val_set
        self.progress, self.step_hook = progress, step_hook

    # ------------------------------------------------------------------------------------------
    def fit(self, stop_after: int | None = None) -> TrainResult:
        """Setup, resume (when asked), steps until ``train.steps`` (or ``stop_after``), finish."""
        # the wall-clock budgets (train.minutes, train.max_minutes) include setup: data, trunk cache
        self.session_start = time.monotonic()
        self.setup()
        if self.resuming:
            self.resume()
        if self.cfg.train.cache_trunk:
            self._cache_trunk()
        self._begin_session()
        try:
            stopped_early = self._loop(stop_after)
            return self.finish(stopped_early)
        finally:
            self.logger.close()

    # -- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        """Process group, seeds, task, data, model, EMA, loss, optimizer, schedule, discriminators."""
        t = self.cfg.train
        self.task = self._pick_task()  # config errors first, before the run directory is touched
        self.dist = D.setup(self.device_arg)
        self.device = self.dist.device
        if self.dist.is_main:
            prepare_run_dir(self.run_dir, resume=self.resuming, overwrite=self.overwrite)
        D.barrier(self.dist)
        seed_everything(t.seed)
        self._setup_data()
        self._setup_model()
        self.global_step, self.best_psnr = 0, -math.inf
        self.planned_total: int | None = None
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.last_good: Path | None = None
        self.metrics: dict[str, float] = {}

    def _pick_task(self) -> TrainingTask:
        cfg = self.cfg
        entry = get_entry(cfg.model.name)
        if entry.pretrained is not None:
            raise ConfigError(f"model.name: {cfg.model.name!r} names shipped pretrained weights; train its "
                              f"architecture instead (model.name: {entry.pretrained.architecture})")
        if not entry.trainable:
            raise ConfigError(f"model.name: {cfg.model.name!r} has no trainable parameters; nothing to train")
        if cfg.domain not in entry.domains:
            raise ConfigError(f"model.name: {cfg.model.name!r} supports domains {entry.domains}, not {cfg.domain!r}")
        return task_for(cfg, entry)

    def _setup_data(self) -> None:
        cfg, t = self.cfg, self.cfg.train
        if self.train_set is None or self.val_set is None:
            built_train, built_val = build_datasets(cfg)
            train_set = self.train_set or built_train
            val_set = self.val_set or built_val
        else:
            train_set, val_set = self.train_set, self.val_set
        check_dataset(train_set, split=cfg.data.train_split, crop=cfg.data.crop, domain=cfg.domain)
        check_dataset(val_set, split=cfg.data.val_split, crop=None, domain=cfg.domain)
        self.paired_train, self.val_data = train_set, val_set
        train_set = self.task.train_set(train_set)
        self.sampler = ResumableBatchSampler(len(train_set), cfg.data.batch_size, t.seed, self.dist.rank,
                                             self.dist.world_size)
        self.steps_per_epoch = self.sampler.batches_per_epoch
        self.total = t.steps if t.steps is not None else t.epochs * self.steps_per_epoch
        self.step_cap = self.total  # train.minutes may shorten the run, never lengthen it past this
        self.loader = self._loader(train_set)

    def _loader(self, train_set: Dataset) -> DataLoader:
        cfg, t = self.cfg, self.cfg.train
        return DataLoader(SeededDataset(train_set, t.seed), batch_sampler=self.sampler,
                          num_workers=cfg.data.workers, pin_memory=self.device.type == "cuda",
                          persistent_workers=False,
                          # Its own generator, so creating an iterator never draws from the
                          # global RNG (a resumed run creates one more iterator than a straight run).
                          generator=torch.Generator().manual_seed(t.seed))

    def _cache_trunk(self) -> None:
        """``train.cache_trunk``: train on crops of precomputed frozen-trunk features. Built after
        resume, so the trunk's weights are those of the checkpoint."""
        cfg = self.cfg
        if not self.task.supports_trunk_cache:
            raise ConfigError(f"train.cache_trunk: {cfg.model.name!r} trains with the {get_entry(cfg.model.name).task!r} "
                              "task, which does not take cached trunk features")
        cached = TrunkCache(self.paired_train, self.model, crop=cfg.data.crop, hflip=cfg.data.hflip,
                            device=self.device, max_gb=cfg.train.cache_trunk_gb)
        self.loader = self._loader(cached)

    def _setup_model(self) -> None:
        cfg, t = self.cfg, self.cfg.train
        model = create_model(cfg.model.name, **cfg.model.kwargs)
        check_input_channels(model, self.paired_train, cfg.model.name)
        if cfg.model.encoder_weights is not None and not self.resuming:
            load_pretrained_encoder(model, cfg.model)  # before the EMA copy is taken
        self.model = model.to(self.device)
        if t.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.ema = ModelEMA(self.model, t.ema_decay) if t.ema_decay else None
        self.task.build_loss(self.device)
        self.opt = torch.optim.Adam(self.task.param_groups(self.model), lr=t.lr, betas=t.betas,
                                    weight_decay=t.weight_decay)
        self.sched = self._scheduler()
        self.discs = self.opt_d = None
        if cfg.gan.enabled:
            self.discs = build_discriminators(cfg).to(self.device).train()
            self.opt_d = torch.optim.Adam(self.discs.parameters(), lr=cfg.gan.lr or t.lr, betas=t.betas)

    def _scheduler(self, last_step: int = -1) -> torch.optim.lr_scheduler.LambdaLR:
        return torch.optim.lr_scheduler.LambdaLR(self.opt, self.task.lr_lambdas(self.steps_per_epoch, self.total),
                                                 last_epoch=last_step)

    # -- resume --------------------------------------------------------------------------------
    def resume(self) -> None:
        """Load ``checkpoints/last``: weights, optimizer, schedule, EMA, discriminators, RNG, position."""
        model_state, state, ema_state = ckpt.load(self.ckpt_dir, "last", model=self.model, domain=self.cfg.domain)
        self.model.load_state_dict(model_state, strict=True)
        if self.cfg.train.minutes is not None and state.get("planned_total"):
            # the length train.minutes planned in the first session, not a new plan at new speed
            self.planned_total = int(state["planned_total"])
            self.total = min(self.total, self.planned_total)
            self.sched = self._scheduler()
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        if self.ema is not None:
            if ema_state is None:
                raise file_error(self.ckpt_dir / "last.safetensors", "has no EMA weights but train.ema_decay is set",
                                 CrossspecError)
            self.ema.module.load_state_dict(ema_state, strict=True)
            self.ema.load_state_dict(state["ema"])
        if self.discs is not None:
            if "discriminators" not in state:
                raise file_error(self.ckpt_dir / "last.state.pt", "has no discriminators but gan.enabled is true",
                                 CrossspecError)
            self.discs.load_state_dict(state["discriminators"])
            self.opt_d.load_state_dict(state["optimizer_d"])  # type: ignore[union-attr]
        self.global_step, self.best_psnr = int(state["step"]), float(state["best_psnr"])
        ckpt.set_rng_state(state["rng"])
        self.last_good = self.ckpt_dir / "last.safetensors"
        if self.global_step >= self.total:
            log.info("%s: already trained for %d steps (train: %d); nothing to do", self.run_dir, self.global_step,
                     self.total)

    def _begin_session(self) -> None:
        """Record the session, wrap the model for the step (DDP under torchrun), open the log."""
        cfg, t, dist, device = self.cfg, self.cfg.train, self.dist, self.device
        if dist.is_main:
            save_config(cfg, self.run_dir / "config.yaml")
            session = {"start_step": self.global_step, **provenance.collect(device, world_size=dist.world_size)}
            provenance.record_session(self.run_dir, session, resume=self.resuming)
        self.net: nn.Module = _TrainForward(self.model, self.task)
        self.discs_train: Any = self.discs
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            self.net = DDP(self.net, device_ids=ids, find_unused_parameters=self.task.find_unused_parameters)
            if self.discs is not None:
                self.discs_train = {k: DDP(v, device_ids=ids) for k, v in self.discs.items()}
        self.autocast = t.bf16 and (device.type == "cuda"
                                    or (device.type == "cpu" and t.bf16_cpu and cpu_bf16_ok()))
        self.logger = RunLogger(self.run_dir, enabled=dist.is_main, total_steps=self.total,
                                start_step=self.global_step, progress=self.progress)

    # -- steps ---------------------------------------------------------------------------------
    def _loop(self, stop_after: int | None) -> bool:
        """Optimizer steps until the end of the run or ``stop_after``; True when stopped early
        (``stop_after``; a spent ``train.max_minutes`` returns False, as it validates)."""
        budget = self.cfg.train.max_minutes
        start = self.session_start
        deadline = None if budget is None else start + 60.0 * budget
        plan = self.cfg.train.minutes is not None and self.planned_total is None
        timer = (self.global_step + self.PLAN_SKIP, 0.0)
        replan = False
        while self.global_step < self.total:
            epoch = self.global_step // self.steps_per_epoch
            self.sampler.set_epoch(epoch, start=self.global_step % self.steps_per_epoch)
            for batch in self.loader:
                loss, scalars = self.step(batch)
                if plan:
                    if self.global_step == timer[0]:
                        timer = (self.global_step, time.monotonic())
                    elif self.global_step == timer[0] + self.PLAN_STEPS:
                        self._plan_length((time.monotonic() - timer[1]) / self.PLAN_STEPS, time.monotonic() - start,
                                          self.PLAN_RESERVE)
                        plan, replan = False, self.cfg.train.val_every > 0
                self._after_step(epoch, loss, scalars)
                if replan and self.global_step % self.cfg.train.val_every == 0 and self.global_step < self.total:
                    # once the first validation has run, the speed since the timer includes its cost,
                    # amortised as it will recur: plan again on that, keeping only the final save's share
                    now = time.monotonic()
                    self._plan_length((now - timer[1]) / (self.global_step - timer[0]), now - start,
                                      self.REPLAN_RESERVE)
                    replan = False
                if self.global_step >= self.total or (stop_after is not None and self.global_step >= stop_after):
                    break
                if deadline is not None and D.any_flag(self.dist, time.monotonic() >= deadline):
                    self.logger.message(f"train.max_minutes={budget:g} spent at step {self.global_step} of "
                                        f"{self.total}; --resume continues the run")
                    return False
            if stop_after is not None and self.global_step >= stop_after and self.global_step < self.total:
                return True
        return False

    def _plan_length(self, sec_per_step: float, spent: float, reserve: float) -> None:
        """``train.minutes``: make the run as long as the budget's remainder allows at the measured
        speed (less ``reserve``), capped by ``train.steps``/``epochs``; the schedule follows."""
        minutes = self.cfg.train.minutes
        left = 60.0 * minutes * (1.0 - reserve) - spent
        total = min(self.step_cap, self.global_step + max(1, int(left / max(sec_per_step, 1e-9))))
        total = D.min_int(self.dist, total)
        self.planned_total = total
        if total != self.total:
            self.total = total
            self.sched = self._scheduler(last_step=self.global_step - 1)
            self.logger.set_total(total)
        self.logger.message(f"train.minutes={minutes:g}: {sec_per_step:.3f} s/step measured at step "
                            f"{self.global_step}; the run is {total} steps long")

    def step(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One optimizer step on ``batch`` (discriminators first, then the model); returns the
        loss and the scalars to log."""
        t, task, device = self.cfg.train, self.task, self.device
        step = self.global_step
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items() if torch.is_tensor(v)}
        if t.channels_last:
            batch = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                     for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.autocast):
            outputs = task.forward(self.net, batch, step)
        outputs = to_float(outputs)
        scalars: dict[str, torch.Tensor] = {}

        if self.discs is not None:
            # Discriminators first (pix2pix order), on detached generator outputs.
            x, gan_out, y = task.gan_view(outputs, batch)
            d_loss, d_terms = discriminator_loss(self.discs_train, x, gan_out, y)
            self.opt_d.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            d_loss.backward()
            self.opt_d.step()  # type: ignore[union-attr]
            scalars.update(d_terms)

        loss, terms = task.loss(outputs, batch, step)
        scalars.update(terms)
        if self.discs is not None:
            self.discs.requires_grad_(False)
            adv, adv_terms = generator_adv_loss(self.discs, x, gan_out, self.cfg)
            self.discs.requires_grad_(True)
            loss = loss + adv
            scalars.update(adv_terms)

        if D.any_flag(self.dist, not torch.isfinite(loss).item()):
            where = str(self.last_good) if self.last_good else "none written yet"
            raise TrainingError(
                f"step {step + 1}: loss became {loss.item()} (terms: "
                + ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
                + f"); training stopped. Last good checkpoint: {where}"
            )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip is not None:
            scalars["grad_norm"] = torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        self.opt.step()
        self.sched.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.global_step += 1
        return loss, scalars

    def _after_step(self, epoch: int, loss: torch.Tensor, scalars: dict[str, torch.Tensor]) -> None:
        """Log, validate and checkpoint at their intervals; run the step hook."""
        t, step, total = self.cfg.train, self.global_step, self.total
        log_now = t.log_every > 0 and (step % t.log_every == 0 or step == total)
        self.logger.train_step(step, {"loss": loss.item(), "lr": self.opt.param_groups[0]["lr"],
                                      **{k: float(v.detach()) for k, v in scalars.items()}} if log_now else {},
                               log_now, epoch)
        if self.dist.is_main:
            if t.val_every > 0 and step % t.val_every == 0 and step < total:
                self.metrics = self._validate()
            if t.ckpt_every > 0 and step % t.ckpt_every == 0 and step < total:
                self.last_good = self._save("last")
                if t.keep_periodic:
                    self._save(f"step_{step:07d}")
        D.barrier(self.dist)
        if self.step_hook is not None:
            self.step_hook(step)

    # -- finish --------------------------------------------------------------------------------
    def finish(self, stopped_early: bool = False) -> TrainResult:
        """Validate the final weights (unless stopped early), save ``last``; the run's result."""
        cfg = self.cfg
        result = TrainResult(self.run_dir, self.global_step, stopped_early=stopped_early)
        if self.dist.is_main:
            if not stopped_early:
                self.metrics = self._validate()
            result.last = self._save("last")
            best = self.ckpt_dir / "best.safetensors"
            result.best = best if best.is_file() else None
            result.metrics = metrics = self.metrics
            if metrics:
                self.logger.message(
                    f"final validation ({cfg.data.val_split}, {int(metrics['images'])} images): "
                    f"{cfg.model.name} PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f}, "
                    f"AE {metrics['ae']:.2f} deg | nir-gray baseline PSNR {metrics['baseline_psnr']:.2f} dB"
                )
        D.barrier(self.dist)
        return result

    # -- checkpoints and validation ------------------------------------------------------------
    def _save(self, tag: str) -> Path:
        t, step, spe = self.cfg.train, self.global_step, self.steps_per_epoch
        state = {"step": step, "epoch": step // spe, "batch": step % spe,
                 "steps_per_epoch": spe, "best_psnr": self.best_psnr,
                 "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(), "seed": t.seed}
        if self.planned_total is not None:
            state["planned_total"] = self.planned_total
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.discs is not None:
            state["discriminators"] = self.discs.state_dict()
            state["optimizer_d"] = self.opt_d.state_dict()  # type: ignore[union-attr]
        return ckpt.save(self.ckpt_dir, tag, model=self.model, ema_model=self.ema.module if self.ema else None,
                         trainer_state=state, domain=self.cfg.domain)

    def _validate(self) -> dict[str, float]:
        t = self.cfg.train
        model = self.ema.module if self.ema is not None else self.model
        metrics, grid = score_model(model, self.val_data, self.device, preview=t.preview_images,
                                    domain=self.cfg.domain)
        metrics["lr"] = self.opt.param_groups[0]["lr"]
        self.logger.validation(self.global_step, metrics, grid)
        if grid is not None:
            save_png(grid, self.run_dir / "preview.png")
        if metrics["psnr"] > self.best_psnr:
            self.best_psnr = metrics["psnr"]
            self._save("best")
        return metrics
