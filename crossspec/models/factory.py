"""The one door to a model: build it by name, load its weights, save them.

- :func:`create_model` builds a registered name (an architecture or a shipped pretrained model),
  optionally loading the shipped weights (``pretrained``) or a weights file (``checkpoint_path``);
- :func:`load_model` builds what a name, a run directory or a weights file names, ready for inference;
- :func:`save_weights` writes a model (and its EMA copy) with what rebuilds it.

Every model built here carries :class:`ModelInfo` (:func:`model_info`): its name, kwargs and
registry entry, and where its weights came from. This module is the only one in ``models/`` that
touches files, and it does so through :mod:`crossspec.io.weights_file` and
:mod:`crossspec.io.shipped_weights`; model families never do.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from crossspec.errors import CrossspecError, file_error
from crossspec.io import shipped_weights
from crossspec.io.weights_file import as_json, model_kwargs_from, read_weights, resolve_checkpoint, write_weights
from crossspec.models.registry import ModelEntry, get_entry, is_model, pretrained_names

INFO_ATTR = "crossspec_info"


@dataclass(frozen=True)
class ModelInfo:
    """How a model was built; ``create_model`` sets it as the model's ``crossspec_info``.

    ``name``: the registered name; ``kwargs``: the builder's keyword arguments (tiny or shipped
    defaults included); ``entry``: its :class:`~crossspec.models.registry.ModelEntry`;
    ``pretrained``: ``{"name", "sha256", "weights"}`` when the shipped weights were loaded;
    ``checkpoint``: ``{"path", **file metadata}`` when the weights came from a weights file.
    """

    name: str
    kwargs: dict[str, Any]
    entry: ModelEntry
    pretrained: dict[str, str] | None = None
    checkpoint: dict[str, str] | None = None


def model_info(model: nn.Module) -> ModelInfo | None:
    """The :class:`ModelInfo` of a model built by :func:`create_model`, else ``None``."""
    info = getattr(model, INFO_ATTR, None)
    return info if isinstance(info, ModelInfo) else None


def model_identity(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """The registered name and kwargs (as JSON gives them back) that rebuild ``model``."""
    info = model_info(model)
    if info is None:
        raise CrossspecError("model was not built with crossspec.models.create_model; cannot record how to rebuild it")
    return info.name, as_json(dict(info.kwargs))


def _build(name: str, tiny: bool, pretrained: bool | None, kwargs: dict[str, Any]) -> tuple[nn.Module, bool]:
    """The model (with its info) and whether its shipped weights are to be loaded."""
    entry = get_entry(name)
    spec = entry.pretrained
    if pretrained and spec is None:
        have = ", ".join(pretrained_names()) or "none are installed"
        raise CrossspecError(f"model {name!r} has no pretrained weights; models with weights: {have}")
    load = spec is not None and (pretrained if pretrained is not None else not tiny)
    if load and tiny:
        raise CrossspecError(f"model {name!r}: tiny=True builds a small untrained variant; it cannot take the "
                             "pretrained weights (pass pretrained=False)")
    if load and spec is not None:
        changed = {k: v for k, v in kwargs.items() if spec.kwargs.get(k, object()) != as_json(v)}
        if changed:
            raise CrossspecError(f"model {name!r}: its weights fit {spec.architecture!r} with {spec.kwargs}; "
                                 f"build {spec.architecture!r} to change {', '.join(sorted(changed))}")
    base = entry.tiny_kwargs if tiny else (spec.kwargs if spec is not None else {})
    params = {**base, **kwargs}
    model = entry.builder(**params)
    if entry.size_multiple is not None:
        own = getattr(model, "size_multiple", None)
        if own is not None and int(own) != entry.size_multiple:
            raise CrossspecError(f"model {name!r}: the registry declares size_multiple {entry.size_multiple}, "
                                 f"the built model {own}")
        model.size_multiple = entry.size_multiple
    setattr(model, INFO_ATTR, ModelInfo(name, params, entry))
    return model, bool(load)


def _with_info(model: nn.Module, **changes: Any) -> None:
    from dataclasses import replace

    setattr(model, INFO_ATTR, replace(model_info(model), **changes))  # type: ignore[arg-type]


def load_shipped_weights(model: nn.Module, spec: shipped_weights.Pretrained) -> None:
    """Load the shipped weights into ``model`` (strict; fp16 files are cast to the model's dtype)."""
    try:
        model.load_state_dict(shipped_weights.load_state(spec), strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).strip().splitlines()[:2])[:300]
        raise file_error(spec.weights, f"weights do not fit {spec.architecture!r} with {spec.kwargs} ({first})",
                         CrossspecError) from None
    _with_info(model, pretrained={"name": spec.name, "sha256": spec.sha256, "weights": str(spec.weights)})


def _load_checkpoint(model: nn.Module, path: Path, prefer_ema: bool,
                     read: tuple[dict[str, torch.Tensor], dict[str, str]] | None = None) -> None:
    state, meta = read if read is not None else read_weights(path, prefer_ema=prefer_ema)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise file_error(
            path, f"weights do not fit model {meta['model_name']!r} ({' '.join(first[:2])[:300]})", CrossspecError
        ) from None
    _with_info(model, checkpoint={"path": str(path), **meta})


def create_model(name: str, *, tiny: bool = False, pretrained: bool | None = None,
                 checkpoint_path: str | os.PathLike | None = None, prefer_ema: bool = True, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; ``tiny=True`` applies its test-size settings first.

    ``pretrained``: ``None`` (default) loads the shipped weights when ``name`` has them (unless
    ``tiny`` or ``checkpoint_path``), ``True`` requires them, ``False`` builds the same architecture
    untrained. Weights are checked against their sha256 and loaded strictly; nothing is downloaded.
    ``checkpoint_path``: a crossspec weights file whose weights (the EMA ones when present and
    ``prefer_ema``) replace the built model's, strictly.
    """
    if checkpoint_path is not None and pretrained:
        raise CrossspecError(f"model {name!r}: pretrained=True and checkpoint_path: choose one source of weights")
    model, load = _build(name, tiny, False if checkpoint_path is not None else pretrained, kwargs)
    if load:
        load_shipped_weights(model, get_entry(name).pretrained)  # type: ignore[arg-type]
    if checkpoint_path is not None:
        _load_checkpoint(model, Path(checkpoint_path), prefer_ema)
    return model


def load_model(spec: str | os.PathLike, device: str | torch.device = "cpu", prefer_ema: bool = True) -> nn.Module:
    """Build a model ready for inference (``eval()`` mode) from ``spec``.

    ``spec`` is a registered model name (a shipped pretrained model with its verified weights, or
    an architecture with its default, untrained weights: meant for parameter-free baselines such as
    ``nir-gray``), a run directory or a ``.safetensors`` file. Weights load with ``strict=True``;
    EMA weights are used when the file has them.
    """
    text = os.fspath(spec)
    if is_model(text) and not Path(text).exists():
        return create_model(text).to(device).eval()
    path = Path(text)
    if not path.exists():
        if os.sep not in text and not path.suffix:
            get_entry(text)  # raises "unknown model ... did you mean"
        raise file_error(path, "no such checkpoint file or run directory", CrossspecError)
    path = resolve_checkpoint(path)
    state, meta = read_weights(path, prefer_ema=prefer_ema)
    kwargs = model_kwargs_from(meta, path)
    try:
        # the file's weights replace whatever the name would load
        model, _ = _build(meta["model_name"], False, False, kwargs)
    except CrossspecError as exc:
        raise file_error(path, f"cannot rebuild model: {exc}", CrossspecError) from None
    _load_checkpoint(model, path, prefer_ema, (state, meta))
    return model.to(device).eval()


def save_weights(
    path: str | os.PathLike,
    model: nn.Module,
    ema_model: nn.Module | None = None,
    *,
    step: int = 0,
    domain: str = "nir",
    extra: dict[str, str] | None = None,
) -> Path:
    """Write ``model`` (and ``ema_model``) weights to ``path`` atomically, replacing it, with the
    name and kwargs that rebuild it (:func:`load_model`)."""
    name, kwargs = model_identity(model)
    return write_weights(path, model.state_dict(), ema_model.state_dict() if ema_model is not None else None,
                         model_name=name, model_kwargs=kwargs, step=step, domain=domain, extra=extra)
