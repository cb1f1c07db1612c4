"""Training checkpoints: weights as safetensors plus the trainer state as a ``.pt`` file.

For a tag (``last``, ``best`` or ``step_000500``) a run directory holds

    checkpoints/<tag>.safetensors   model (+ EMA) weights, see crossspec.io.weights_file
    checkpoints/<tag>.state.pt      optimizer(s), scheduler, step, epoch, batch position, EMA
                                    bookkeeping, discriminators, RNG states of torch / CUDA /
                                    numpy / python

The state holds only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)``. Both files are written atomically (state first, weights
second); both carry the step, so a pair torn by a crash is detected on resume.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from crossspec.errors import CrossspecError, file_error
from crossspec.io.atomic import atomic_path
from crossspec.io.weights_file import FORMAT_VERSION, model_kwargs_from, read_weights
from crossspec.models import model_identity, save_weights

STATE_SUFFIX = ".state.pt"


def paths(ckpt_dir: str | os.PathLike, tag: str) -> tuple[Path, Path]:
    d = Path(ckpt_dir)
    return d / f"{tag}.safetensors", d / f"{tag}{STATE_SUFFIX}"


def rng_state() -> dict[str, Any]:
    """RNG states as tensors and plain numbers (numpy's array becomes an int64 tensor)."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "python": {"version": int(py_version), "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(
    ckpt_dir: str | os.PathLike,
    tag: str,
    *,
    model: nn.Module,
    ema_model: nn.Module | None,
    trainer_state: dict[str, Any],
    domain: str,
) -> Path:
    """Write ``<tag>.state.pt`` then ``<tag>.safetensors``; returns the weights path."""
    weights, state_path = paths(ckpt_dir, tag)
    name, kwargs = model_identity(model)
    state = {"format": FORMAT_VERSION, "model_name": name, "model_kwargs": kwargs, "rng": rng_state(),
             **trainer_state}
    with atomic_path(state_path, overwrite=True) as tmp:
        torch.save(state, tmp)
    save_weights(weights, model, ema_model, step=trainer_state["step"], domain=domain)
    return weights


def load(ckpt_dir: str | os.PathLike, tag: str, *, model: nn.Module, domain: str) -> tuple[dict, dict, dict | None]:
    """Read a checkpoint pair for resuming ``model``.

    Returns ``(model_state, trainer_state, ema_state_or_None)``. Raises CrossspecError when the
    files are missing, from another model / kwargs / domain / format, or torn (steps differ).
    """
    weights, state_path = paths(ckpt_dir, tag)
    for p in (weights, state_path):
        if not p.is_file():
            raise file_error(p, "checkpoint file missing; cannot resume", CrossspecError)
    model_state, meta = read_weights(weights, prefer_ema=False)
    ema_state = None
    if meta.get("has_ema") == "1":
        ema_state, _ = read_weights(weights, prefer_ema=True)
    name, kwargs = model_identity(model)
    if meta["model_name"] != name:
        raise file_error(weights, f"checkpoint is for model {meta['model_name']!r}, but the config builds {name!r}",
                         CrossspecError)
    saved_kwargs = model_kwargs_from(meta, weights)
    if saved_kwargs != kwargs:
        raise file_error(weights, f"checkpoint was trained with model kwargs {saved_kwargs}, the config gives {kwargs}",
                         CrossspecError)
    if meta.get("domain", domain) != domain:
        raise file_error(weights, f"checkpoint was trained on domain {meta['domain']!r}, not {domain!r}", CrossspecError)
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle and zip errors come in many types
        raise file_error(state_path, f"unreadable trainer state ({type(exc).__name__}: {exc})", CrossspecError) from None
    if state.get("format") != FORMAT_VERSION:
        raise file_error(state_path, f"trainer state format {state.get('format')!r} is not {FORMAT_VERSION!r}",
                         CrossspecError)
    if str(state.get("step")) != meta.get("step"):
        raise file_error(state_path, f"step {state.get('step')} does not match {weights.name} (step {meta.get('step')}); "
                         "the pair was torn by an interrupted save", CrossspecError)
    return model_state, state, ema_state
