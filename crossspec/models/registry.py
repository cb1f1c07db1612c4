"""Model registry in the style of timm: what each registered name is, declared once.

A model family registers a builder per name with :func:`register_model`; the entry says what the
model is (its :class:`ModelEntry`). Every registered name also has a *tiny* variant
(``create_model(name, tiny=True)``) small enough for the test suite to build and run on CPU in
seconds. Models are built by :func:`crossspec.models.create_model` (:mod:`crossspec.models.factory`).

Shipped pretrained models (``crossspec/weights/<name>.json``, see :mod:`crossspec.io.shipped_weights`)
are registered names too: their entry is their architecture's, with ``pretrained`` set and their
one domain; ``list_models(pretrained=True)``, ``pretrained_names(domain)`` and
``default_pretrained(domain)`` find them.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch.nn as nn

from crossspec.errors import CrossspecError
from crossspec.io import shipped_weights


@dataclass(frozen=True)
class ModelEntry:
    """What a registered name is.

    ``task`` names what the model does and so how it trains (``crossspec.engine.tasks``):
    ``"colorize"`` (input -> RGB, supervised), ``"cooperative"`` (a colorizer trained with
    translators and the cooperative losses) or ``"translate"`` (a domain translator, input -> 1
    channel, trained inside a cooperative model). ``takes_domain``: ``forward(x, domain=...)``
    accepts the input domain ("nir" / "gray"), which inference and validation then pass.
    ``size_multiple``: the side multiple the model pads to, when fixed for every kwargs; ``None``
    leaves it to the built model's ``size_multiple`` attribute (1 when it has none).
    ``pretrained``: the shipped weights (file, sha256, card, manifest), for shipped names only.
    """

    name: str
    builder: Callable[..., nn.Module]
    description: str
    domains: tuple[str, ...] = ("nir",)
    tiny_kwargs: dict[str, Any] = field(default_factory=dict)
    trainable: bool = True
    task: str = "colorize"
    pretrained: shipped_weights.Pretrained | None = None
    takes_domain: bool = False
    size_multiple: int | None = None


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str,
    *,
    description: str,
    domains: tuple[str, ...] = ("nir",),
    tiny: dict[str, Any] | None = None,
    trainable: bool = True,
    task: str = "colorize",
    takes_domain: bool = False,
    size_multiple: int | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder(**kwargs) -> nn.Module`` under ``name`` (fields: :class:`ModelEntry`).

    ``tiny`` holds the keyword arguments that make the model small enough for CPU tests.
    """

    def deco(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ModelEntry(name, builder, description, tuple(domains), dict(tiny or {}), trainable, task,
                                     takes_domain=bool(takes_domain), size_multiple=size_multiple)
        return builder

    return deco


def _ensure_builtin_models() -> None:
    # Importing the families registers them; done lazily so `crossspec.models.registry` stays light.
    import crossspec.models  # noqa: F401


def _pretrained_entries() -> dict[str, ModelEntry]:
    entries = {}
    for name, spec in shipped_weights.discover().items():
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
        entries[name] = replace(arch, name=name, description=description, domains=(spec.domain,), trainable=False,
                                pretrained=spec)
    return entries


def _all_entries() -> dict[str, ModelEntry]:
    _ensure_builtin_models()
    return {**_REGISTRY, **_pretrained_entries()}


def get_entry(name: str) -> ModelEntry:
    """The entry of a registered architecture or shipped model; ``CrossspecError`` (with the
    closest name) for an unknown one."""
    entries = _all_entries()
    try:
        return entries[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(entries), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CrossspecError(
            f"unknown model {name!r}{hint}; registered models: {', '.join(sorted(entries))}"
        ) from None


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered architecture or a shipped pretrained model."""
    return name in _all_entries()


def list_models(pretrained: bool | None = None) -> list[str]:
    """Registered names: all (``None``), only those with shipped weights (``True``) or only the
    architectures (``False``)."""
    entries = _all_entries()
    return sorted(n for n, e in entries.items() if pretrained is None or (e.pretrained is not None) == pretrained)


def pretrained_names(domain: str | None = None, imagery: str | None = None) -> list[str]:
    """Names of the shipped pretrained models, optionally only those for ``domain`` ("nir"/"gray")
    and trained on ``imagery`` ("photo"/"overhead")."""
    return [n for n in list_models(pretrained=True) if (domain is None or get_entry(n).domains == (domain,))
            and (imagery is None or get_entry(n).pretrained.imagery == imagery)]  # type: ignore[union-attr]


def default_pretrained(domain: str, imagery: str = "photo") -> str | None:
    """The shipped model to use for ``domain`` on ``imagery`` when none is named: the one whose
    manifest says ``"default": true``, else the only one for that domain and imagery, else ``None``."""
    names = pretrained_names(domain, imagery)
    marked = [n for n in names if get_entry(n).pretrained.default]  # type: ignore[union-attr]
    if marked:
        return marked[0]
    return names[0] if len(names) == 1 else None
