"""Model registry in the style of timm: ``create_model(name, **kwargs)`` and ``list_models()``.

A model family registers a builder per name. Every registered name also has a *tiny* variant
(``create_model(name, tiny=True)``) small enough for the test suite to build and run on CPU in
seconds.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

from crossspec.errors import CrossspecError


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


def get_entry(name: str) -> ModelEntry:
    _ensure_builtin_models()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CrossspecError(
            f"unknown model {name!r}{hint}; registered models: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create_model(name: str, *, tiny: bool = False, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; ``tiny=True`` applies its test-size settings first."""
    entry = get_entry(name)
    params = {**(entry.tiny_kwargs if tiny else {}), **kwargs}
    model = entry.builder(**params)
    model.crossspec_name = name  # type: ignore[attr-defined]
    model.crossspec_kwargs = params  # type: ignore[attr-defined]
    return model


def list_models() -> list[str]:
    _ensure_builtin_models()
    return sorted(_REGISTRY)
