"""Model weights files: safetensors with the model's name and kwargs in the metadata.

A weights file holds ``model.<param>`` tensors and, when training kept an exponential moving
average, ``ema.<param>`` tensors. Its metadata (string -> string) holds:

- ``crossspec_format``: :data:`FORMAT_VERSION`; files from another format version are refused;
- ``model_name`` / ``model_kwargs`` (JSON): enough to rebuild the model with ``create_model``;
- ``step``, ``domain``, ``crossspec_version``: provenance.

:func:`load_model` accepts a registered model name, a run directory or a weights file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from crossspec.errors import CrossspecError, file_error

FORMAT_VERSION = "1"
WEIGHTS_SUFFIX = ".safetensors"


def model_identity(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """The registered name and kwargs that rebuild ``model`` (set by ``create_model``)."""
    name = getattr(model, "crossspec_name", None)
    if name is None:
        raise CrossspecError("model was not built with crossspec.models.create_model; cannot record how to rebuild it")
    # as JSON would give them back (tuples become lists), so a saved and a live identity compare equal
    return name, json.loads(json.dumps(dict(getattr(model, "crossspec_kwargs", {}))))


def _plain_state(module: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    # safetensors refuses tensors that share storage, so every tensor gets its own contiguous copy.
    return {f"{prefix}{k}": v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_weights(
    path: str | os.PathLike,
    model: nn.Module,
    ema_model: nn.Module | None = None,
    *,
    step: int = 0,
    domain: str = "nir",
    extra: dict[str, str] | None = None,
) -> Path:
    """Write ``model`` (and ``ema_model``) weights to ``path`` atomically, replacing it."""
    from safetensors.torch import save_file

    from crossspec import __version__
    from crossspec.io.atomic import atomic_path

    name, kwargs = model_identity(model)
    tensors = _plain_state(model, "model.")
    if ema_model is not None:
        tensors.update(_plain_state(ema_model, "ema."))
    meta = {
        "crossspec_format": FORMAT_VERSION,
        "crossspec_version": __version__,
        "model_name": name,
        "model_kwargs": json.dumps(kwargs, sort_keys=True),
        "step": str(int(step)),
        "domain": domain,
        "has_ema": "1" if ema_model is not None else "0",
        **(extra or {}),
    }
    with atomic_path(path, overwrite=True) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """Metadata of a weights file; raises CrossspecError when it is not a crossspec weights file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise file_error(path, "checkpoint not found", CrossspecError)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises several unrelated types for a corrupt header
        raise file_error(path, f"not a readable safetensors file ({exc})", CrossspecError) from None
    if "model_name" not in meta or "crossspec_format" not in meta:
        raise file_error(path, "safetensors file without crossspec metadata (model_name, crossspec_format)", CrossspecError)
    if meta["crossspec_format"] != FORMAT_VERSION:
        raise file_error(
            path,
            f"checkpoint format {meta['crossspec_format']} is not supported by this crossspec "
            f"(format {FORMAT_VERSION}); retrain or convert it",
            CrossspecError,
        )
    return meta


def model_kwargs_from(meta: dict[str, str], path: str | os.PathLike) -> dict[str, Any]:
    try:
        kwargs = json.loads(meta.get("model_kwargs", "{}"))
    except json.JSONDecodeError:
        raise file_error(path, "metadata model_kwargs is not valid JSON", CrossspecError) from None
    if not isinstance(kwargs, dict):
        raise file_error(path, "metadata model_kwargs is not a mapping", CrossspecError)
    return kwargs


def read_weights(path: str | os.PathLike, prefer_ema: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(state_dict, metadata)``; the EMA weights when present and ``prefer_ema``."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    tensors = load_file(str(path))
    prefix = "ema." if prefer_ema and any(k.startswith("ema.") for k in tensors) else "model."
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        raise file_error(path, "holds no model weights (no 'model.*' tensors)", CrossspecError)
    return state, meta


def resolve_checkpoint(spec: str | os.PathLike) -> Path:
    """A weights file from a file path or a run directory (``best`` first, then ``last``)."""
    path = Path(spec)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.safetensors", path / "checkpoints" / "last.safetensors",
                          path / "best.safetensors", path / "last.safetensors"):
            if candidate.is_file():
                return candidate
        raise file_error(path, "run directory without checkpoints/best.safetensors or checkpoints/last.safetensors",
                         CrossspecError)
    if path.suffix != WEIGHTS_SUFFIX:
        raise file_error(path, f"expected a {WEIGHTS_SUFFIX} weights file or a run directory", CrossspecError)
    return path


def load_model(spec: str | os.PathLike, device: str | torch.device = "cpu", prefer_ema: bool = True) -> nn.Module:
    """Build a model ready for inference (``eval()`` mode) from ``spec``.

    ``spec`` is a registered model name (a shipped pretrained model with its verified weights, or
    an architecture with its default, untrained weights: meant for parameter-free baselines such as
    ``nir-gray``), a run directory or a ``.safetensors`` file. Weights load with ``strict=True``;
    EMA weights are used when the file has them.
    """
    from crossspec.models.registry import create_model, is_registered

    text = os.fspath(spec)
    if is_registered(text) and not Path(text).exists():
        return create_model(text).to(device).eval()
    path = Path(text)
    if not path.exists():
        from crossspec.models.registry import get_entry

        if os.sep not in text and not path.suffix:
            get_entry(text)  # raises "unknown model ... did you mean"
        raise file_error(path, "no such checkpoint file or run directory", CrossspecError)
    path = resolve_checkpoint(path)
    state, meta = read_weights(path, prefer_ema=prefer_ema)
    kwargs = model_kwargs_from(meta, path)
    try:
        # the file's weights replace whatever the name would load
        model = create_model(meta["model_name"], pretrained=False, **kwargs)
    except CrossspecError as exc:
        raise file_error(path, f"cannot rebuild model: {exc}", CrossspecError) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise file_error(
            path, f"weights do not fit model {meta['model_name']!r} ({' '.join(first[:2])[:300]})", CrossspecError
        ) from None
    model.crossspec_checkpoint = {"path": str(path), **meta}  # type: ignore[attr-defined]
    return model.to(device).eval()
