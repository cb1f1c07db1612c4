"""The training loop: plain PyTorch, readable top to bottom.

    trainer = Trainer(cfg, run_dir="runs/quickstart")
    result = trainer.fit()          # -> TrainResult (checkpoints, final validation)

One call to :meth:`Trainer.fit` does, in order:

1. join the process group when launched by torchrun; seed torch / numpy / python;
2. build and check the data (root present, images at least the crop, paired, right domain);
3. build the model, its EMA copy, Adam, the learning-rate schedule, optionally two PatchGANs;
4. on ``resume``: reload ``checkpoints/last`` (weights, optimizer, schedule, EMA, RNG, position),
   refusing a checkpoint of another model, kwargs, domain or format version;
   then write the resolved ``config.yaml`` and add this session's provenance (code version, git
   commit, torch, device, threads) to ``run.json`` (:mod:`crossspec.engine.run_provenance`);
5. loop over optimizer steps: forward (bf16 autocast on CUDA, on CPU with ``train.bf16_cpu``),
   loss, NaN check, backward,
   gradient clipping, step, EMA update; log, validate, checkpoint at their intervals;
6. validate the final weights, save ``last`` (and ``best`` by validation PSNR) and a preview PNG.

Determinism: the sample order is a function of ``(seed, epoch)`` and each sample's augmentation of
``(seed, epoch, index)`` (see :mod:`crossspec.engine.data`), the trainer's RNG states are saved in
every checkpoint, so on CPU a resumed run ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import logging
import math
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from crossspec.config import Config, save_config
from crossspec.engine import run_checkpoint as ckpt
from crossspec.engine import distributed as D
from crossspec.engine import run_provenance as provenance
from crossspec.engine.data import (ResumableBatchSampler, SeededDataset, build_datasets, check_dataset,
                                   check_input_channels)
from crossspec.engine.ema import ModelEMA
from crossspec.engine.logging import RunLogger, save_png
from crossspec.engine.pretrained import load_pretrained_encoder
from crossspec.engine.objectives import (SupervisedObjective, build_discriminators, build_loss, discriminator_loss,
                                         generator_adv_loss, to_float)
from crossspec.engine.validation_scores import score_model
from crossspec.errors import ConfigError, CrossspecError, file_error
from crossspec.models import create_model, get_entry

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
    """Makes ``forward`` return the model's training dict, so DDP wraps the call it must see."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor | dict[str, torch.Tensor], plan: Any = None) -> dict[str, Any]:
        if isinstance(x, dict):
            return self.model.cooperative_forward(x, plan)
        if hasattr(self.model, "forward_train"):
            return self.model.forward_train(x)
        return {"rgb": self.model(x)}


def lr_factor(cfg: Config, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """Multiplier of ``train.lr`` at optimizer step ``step`` (0-based)."""
    t = cfg.train
    warm = min(1.0, (step + 1) / t.warmup_steps) if t.warmup_steps > 0 else 1.0
    if t.schedule == "step":
        return warm * t.lr_gamma ** (step // max(1, t.lr_step_epochs * steps_per_epoch))
    if t.schedule == "cosine":
        floor = t.lr_min / t.lr
        progress = min(1.0, step / max(1, total_steps))
        return warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
    return warm


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
    (without final validation), as if the process had been stopped.
    """

    def __init__(self, cfg: Config, run_dir: str | Path, *, device: str = "auto", resume: bool = False,
                 overwrite: bool = False, train_set: Dataset | None = None, val_set: Dataset | None = None,
                 progress: bool = True, step_hook: Callable[[int], None] | None = None) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.device_arg, self.resume, self.overwrite = device, resume, overwrite
        self.train_set, self.val_set = train_set, val_set
        self.progress, self.step_hook = progress, step_hook

    # ------------------------------------------------------------------------------------------
    def fit(self, stop_after: int | None = None) -> TrainResult:
        cfg, t = self.cfg, self.cfg.train
        dist = D.setup(self.device_arg)
        device = dist.device
        if dist.is_main:
            prepare_run_dir(self.run_dir, resume=self.resume, overwrite=self.overwrite)
        D.barrier(dist)
        seed_everything(t.seed)

        # -- data ---------------------------------------------------------------------------
        entry = get_entry(cfg.model.name)
        if entry.pretrained is not None:
            raise ConfigError(f"model.name: {cfg.model.name!r} names shipped pretrained weights; train its "
                              f"architecture instead (model.name: {entry.pretrained.architecture})")
        if not entry.trainable:
            raise ConfigError(f"model.name: {cfg.model.name!r} has no trainable parameters; nothing to train")
        if cfg.domain not in entry.domains:
            raise ConfigError(f"model.name: {cfg.model.name!r} supports domains {entry.domains}, not {cfg.domain!r}")
        cooperative = entry.task == "cooperative"
        if entry.task == "translate":
            raise ConfigError(f"model.name: {cfg.model.name!r} is a domain translator; it trains inside a cooperative "
                              "model (model.name: cocolor-small, see configs/nir/cooperative.yaml)")
        if cooperative and not cfg.stages:
            raise ConfigError(f"stages: {cfg.model.name!r} trains in stages; add a stages: section "
                              "(see configs/nir/cooperative.yaml)")
        if cfg.stages and not cooperative:
            raise ConfigError(f"stages: only cooperative models (cocolor*) train in stages, not {cfg.model.name!r}")
        if self.train_set is None or self.val_set is None:
            built_train, built_val = build_datasets(cfg)
            train_set = self.train_set or built_train
            val_set = self.val_set or built_val
        else:
            train_set, val_set = self.train_set, self.val_set
        check_dataset(train_set, split=cfg.data.train_split, crop=cfg.data.crop, domain=cfg.domain)
        check_dataset(val_set, split=cfg.data.val_split, crop=None, domain=cfg.domain)
        if cooperative:
            from crossspec.engine.cooperative import WithGray, build_gray_pool

            train_set = WithGray(train_set, build_gray_pool(cfg, train_set))
        sampler = ResumableBatchSampler(len(train_set), cfg.data.batch_size, t.seed, dist.rank, dist.world_size)
        steps_per_epoch = sampler.batches_per_epoch
        total = t.steps if t.steps is not None else t.epochs * steps_per_epoch
        loader = DataLoader(SeededDataset(train_set, t.seed), batch_sampler=sampler,
                            num_workers=cfg.data.workers, pin_memory=device.type == "cuda",
                            persistent_workers=False,
                            # Its own generator, so creating an iterator never draws from the
                            # global RNG (a resumed run creates one more iterator than a straight run).
                            generator=torch.Generator().manual_seed(t.seed))

        # -- model, EMA, optimizer, schedule, loss, GAN --------------------------------------
        model = create_model(cfg.model.name, **cfg.model.kwargs)
        check_input_channels(model, train_set, cfg.model.name)
        if cfg.model.encoder_weights is not None and not self.resume:
            load_pretrained_encoder(model, cfg.model)  # before the EMA copy is taken
        model = model.to(device)
        model.train()
        ema = ModelEMA(model, t.ema_decay) if t.ema_decay else None
        loss_fn = build_loss(cfg)
        if hasattr(loss_fn, "module"):
            loss_fn.module.to(device)  # type: ignore[attr-defined]
        if cooperative:
            from crossspec.engine.cooperative import CooperativeObjective, param_groups, stage_lr_lambdas

            opt = torch.optim.Adam(param_groups(model), lr=t.lr, betas=t.betas, weight_decay=t.weight_decay)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, stage_lr_lambdas(cfg, steps_per_epoch, lr_factor))
            objective: Any = CooperativeObjective(cfg, loss_fn.module)  # type: ignore[attr-defined]
        else:
            opt = torch.optim.Adam(model.parameters(), lr=t.lr, betas=t.betas, weight_decay=t.weight_decay)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(cfg, s, steps_per_epoch, total))
            objective = SupervisedObjective(loss_fn)
        discs = opt_d = None
        if cfg.gan.enabled:
            discs = build_discriminators(cfg).to(device).train()
            opt_d = torch.optim.Adam(discs.parameters(), lr=cfg.gan.lr or t.lr, betas=t.betas)

        step, best_psnr = 0, -math.inf
        ckpt_dir = self.run_dir / "checkpoints"
        last_good: Path | None = None
        if self.resume:
            model_state, state, ema_state = ckpt.load(ckpt_dir, "last", model=model, domain=cfg.domain)
            model.load_state_dict(model_state, strict=True)
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            if ema is not None:
                if ema_state is None:
                    raise file_error(ckpt_dir / "last.safetensors", "has no EMA weights but train.ema_decay is set",
                                     CrossspecError)
                ema.module.load_state_dict(ema_state, strict=True)
                ema.load_state_dict(state["ema"])
            if discs is not None:
                if "discriminators" not in state:
                    raise file_error(ckpt_dir / "last.state.pt", "has no discriminators but gan.enabled is true",
                                     CrossspecError)
                discs.load_state_dict(state["discriminators"])
                opt_d.load_state_dict(state["optimizer_d"])
            step, best_psnr = int(state["step"]), float(state["best_psnr"])
            ckpt.set_rng_state(state["rng"])
            last_good = ckpt_dir / "last.safetensors"
            if step >= total:
                log.info("%s: already trained for %d steps (train: %d); nothing to do", self.run_dir, step, total)

        if dist.is_main:
            save_config(cfg, self.run_dir / "config.yaml")
            session = {"start_step": step, **provenance.collect(device, world_size=dist.world_size)}
            provenance.record_session(self.run_dir, session, resume=self.resume)
        net: nn.Module = _TrainForward(model)
        discs_train: Any = discs
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            # a stage may leave parts unused (e.g. no translator term in stage 1)
            net = DDP(net, device_ids=ids, find_unused_parameters=cooperative)
            if discs is not None:
                discs_train = {k: DDP(v, device_ids=ids) for k, v in discs.items()}
        autocast = t.bf16 and (device.type == "cuda" or (device.type == "cpu" and t.bf16_cpu and cpu_bf16_ok()))
        logger = RunLogger(self.run_dir, enabled=dist.is_main, total_steps=total, start_step=step,
                           progress=self.progress)
        eval_model = lambda: ema.module if ema is not None else model  # noqa: E731

        def save(tag: str) -> Path:
            state = {"step": step, "epoch": step // steps_per_epoch, "batch": step % steps_per_epoch,
                     "steps_per_epoch": steps_per_epoch, "best_psnr": best_psnr,
                     "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "seed": t.seed}
            if ema is not None:
                state["ema"] = ema.state_dict()
            if discs is not None:
                state["discriminators"] = discs.state_dict()
                state["optimizer_d"] = opt_d.state_dict()
            return ckpt.save(ckpt_dir, tag, model=model, ema_model=ema.module if ema else None,
                             trainer_state=state, domain=cfg.domain)

        def validate() -> dict[str, float]:
            nonlocal best_psnr
            metrics, grid = score_model(eval_model(), val_set, device, preview=t.preview_images, domain=cfg.domain)
            metrics["lr"] = opt.param_groups[0]["lr"]
            logger.validation(step, metrics, grid)
            if grid is not None:
                save_png(grid, self.run_dir / "preview.png")
            if metrics["psnr"] > best_psnr:
                best_psnr = metrics["psnr"]
                save("best")
            return metrics

        # -- the loop ------------------------------------------------------------------------
        metrics: dict[str, float] = {}
        stopped_early = False
        try:
            while step < total:
                epoch = step // steps_per_epoch
                sampler.set_epoch(epoch, start=step % steps_per_epoch)
                for batch in loader:
                    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items() if torch.is_tensor(v)}
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                        outputs = objective.forward(net, batch, step)
                    outputs = to_float(outputs)
                    scalars: dict[str, torch.Tensor] = {}

                    if discs is not None:
                        # Discriminators first (pix2pix order), on detached generator outputs.
                        x, gan_out, y = objective.gan_view(outputs, batch)
                        d_loss, d_terms = discriminator_loss(discs_train, x, gan_out, y)
                        opt_d.zero_grad(set_to_none=True)
                        d_loss.backward()
                        opt_d.step()
                        scalars.update(d_terms)

                    loss, terms = objective.loss(outputs, batch, step)
                    scalars.update(terms)
                    if discs is not None:
                        discs.requires_grad_(False)
                        adv, adv_terms = generator_adv_loss(discs, x, gan_out, cfg)
                        discs.requires_grad_(True)
                        loss = loss + adv
                        scalars.update(adv_terms)

                    bad = D.any_flag(dist, not torch.isfinite(loss).item())
                    if bad:
                        where = str(last_good) if last_good else "none written yet"
                        raise TrainingError(
                            f"step {step + 1}: loss became {loss.item()} (terms: "
                            + ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
                            + f"); training stopped. Last good checkpoint: {where}"
                        )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if t.grad_clip is not None:
                        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                        scalars["grad_norm"] = gnorm
                    opt.step()
                    sched.step()
                    if ema is not None:
                        ema.update(model)
                    step += 1

                    log_now = t.log_every > 0 and (step % t.log_every == 0 or step == total)
                    logger.train_step(step, {"loss": loss.item(), "lr": opt.param_groups[0]["lr"],
                                             **{k: float(v.detach()) for k, v in scalars.items()}} if log_now else {},
                                      log_now, epoch)
                    if dist.is_main:
                        if t.val_every > 0 and step % t.val_every == 0 and step < total:
                            metrics = validate()
                        if t.ckpt_every > 0 and step % t.ckpt_every == 0 and step < total:
                            last_good = save("last")
                            if t.keep_periodic:
                                save(f"step_{step:07d}")
                    D.barrier(dist)
                    if self.step_hook is not None:
                        self.step_hook(step)
                    if step >= total or (stop_after is not None and step >= stop_after):
                        break
                if stop_after is not None and step >= stop_after and step < total:
                    stopped_early = True
                    break

            result = TrainResult(self.run_dir, step, stopped_early=stopped_early)
            if dist.is_main:
                if not stopped_early:
                    metrics = validate()
                result.last = save("last")
                best = ckpt_dir / "best.safetensors"
                result.best = best if best.is_file() else None
                result.metrics = metrics
                if metrics:
                    logger.message(
                        f"final validation ({cfg.data.val_split}, {int(metrics['images'])} images): "
                        f"{cfg.model.name} PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f}, "
                        f"AE {metrics['ae']:.2f} deg | nir-gray baseline PSNR {metrics['baseline_psnr']:.2f} dB"
                    )
            D.barrier(dist)
            return result
        finally:
            logger.close()
