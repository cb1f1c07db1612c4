"""Model registry in the style of timm: ``create_model(name, **kwargs)`` and ``list_models()``.

A model family registers a builder per name. Every registered name also has a *tiny* variant
(``create_model(name, tiny=True)``) small enough for the test suite to build and run on CPU in
seconds.

Shipped pretrained models (``crossspec/weights/<name>.json``, see :mod:`crossspec.models.pretrained`)
are registered names too: ``create_model("colormamba-small-vcip")`` builds their architecture and
loads the verified weights; ``list_models(pretrained=True)``, ``pretrained_names(domain)`` and
``default_pretrained(domain)`` find them.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

from crossspec.errors import CrossspecError
from crossspec.models import pretrained as P


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    description: str
    domains: tuple[str, ...] = ("nir",)
    tiny_kwargs: dict[str, Any] = field(default_factory=dict)
    trainable: bool = True
    # "colorize" (input -> RGB), "cooperative" (a colorizer trained with translators and the
    # cooperative losses) or "translate" (a domain translator, input -> 1 channel)
    task: str = "colorize"
    # shipped weights: set for the names that crossspec/weights/<name>.json declares
    pretrained: P.Pretrained | None = None


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str,
    *,
    description: str,
    domains: tuple[str, ...] = ("nir",),
    tiny: dict[str, Any] | None = None,
    trainable: bool = True,
    task: str = "colorize",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder(**kwargs) -> nn.Module`` under ``name``.

    ``tiny`` holds the keyword arguments that make the model small enough for CPU tests.
    """

    def deco(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelEntry(name, builder, description, tuple(domains), dict(tiny or {}), trainable, task)
        return builder

    return deco


def _ensure_builtin_models() -> None:
    # Importing the families registers them; done lazily so `crossspec.models.registry` stays light.
    import crossspec.models  # noqa: F401


def _pretrained_entries() -> dict[str, ModelEntry]:
    entries = {}
    for name, spec in P.discover().items():
        arch = _REGISTRY.get(spec.architecture)
        if name in _REGISTRY:
            raise CrossspecError(f"{spec.manifest}: name {name!r} is a registered architecture; pick another")
        if arch is None or arch.pretrained is not None:
            raise CrossspecError(f"{spec.manifest}: architecture {spec.architecture!r} is not a registered "
                                 f"architecture; registered: {', '.join(sorted(_REGISTRY))}")
        if spec.domain not in arch.domains:
            raise CrossspecError(f"{spec.manifest}: domain {spec.domain!r} is not one that "
                                 f"{spec.architecture!r} colorizes ({', '.join(arch.domains)})")
        description = spec.description or f"{spec.architecture} with shipped {spec.domain} weights"
        # not trainable by name: fine-tuning starts from the architecture (the trainer says so)
        entries[name] = ModelEntry(name, arch.builder, description, (spec.domain,), arch.tiny_kwargs,
                                   trainable=False, task=arch.task, pretrained=spec)
    return entries


def _all_entries() -> dict[str, ModelEntry]:
    _ensure_builtin_models()
    return {**_REGISTRY, **_pretrained_entries()}


def get_entry(name: str) -> ModelEntry:
    entries = _all_entries()
    try:
        return entries[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(entries), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CrossspecError(
            f"unknown model {name!r}{hint}; registered models: {', '.join(sorted(entries))}"
        ) from None


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered architecture or a shipped pretrained model."""
    return name in _all_entries()


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples become lists, as in a manifest


def create_model(name: str, *, tiny: bool = False, pretrained: bool | None = None, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; ``tiny=True`` applies its test-size settings first.

    ``pretrained``: ``None`` (default) loads the shipped weights when ``name`` has them (unless
    ``tiny``), ``True`` requires them, ``False`` builds the same architecture untrained. Weights
    are checked against their sha256 and loaded strictly; nothing is downloaded.
    """
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
        changed = {k: v for k, v in kwargs.items() if spec.kwargs.get(k, object()) != _as_json(v)}
        if changed:
            raise CrossspecError(f"model {name!r}: its weights fit {spec.architecture!r} with {spec.kwargs}; "
                                 f"build {spec.architecture!r} to change {', '.join(sorted(changed))}")
    base = entry.tiny_kwargs if tiny else (spec.kwargs if spec is not None else {})
    params = {**base, **kwargs}
    model = entry.builder(**params)
    model.crossspec_name = name  # type: ignore[attr-defined]
    model.crossspec_kwargs = params  # type: ignore[attr-defined]
    if load and spec is not None:
        P.load_into(model, spec)
    return model


def list_models(pretrained: bool | None = None) -> list[str]:
    """Registered names: all (``None``), only those with shipped weights (``True``) or only the
    architectures (``False``)."""
    entries = _all_entries()
    return sorted(n for n, e in entries.items() if pretrained is None or (e.pretrained is not None) == pretrained)


def pretrained_names(domain: str | None = None) -> list[str]:
    """Names of the shipped pretrained models, optionally only those for ``domain`` ("nir"/"gray")."""
    return [n for n in list_models(pretrained=True) if domain is None or get_entry(n).domains == (domain,)]


def default_pretrained(domain: str) -> str | None:
    """The shipped model to use for ``domain`` when none is named: the one whose manifest says
    ``"default": true``, else the only one for that domain, else ``None``."""
    names = pretrained_names(domain)
    marked = [n for n in names if get_entry(n).pretrained.default]  # type: ignore[union-attr]
    if marked:
        return marked[0]
    return names[0] if len(names) == 1 else None
