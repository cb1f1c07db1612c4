"""Colour hints on the colorize paths: which models take them, and how they travel with the input.

The hint map (:mod:`crossspec.ops.hint_map`: ``a/110, b/110, mask``) rides as three extra channels
after the input's one: every reader of rows (arrays, images, raster strips) is wrapped by
:func:`with_hint_rows`, which appends the map of exactly the rows and columns it read. Tiles,
strips and their blending (:mod:`crossspec.inference.stream`) then cut the hints with the same
windows as the input without knowing about them, and a hinted predictor
(``make_predictor(..., hinted=True)``) splits the channels again before the model:
``model(x, hints=(ab, mask), ...)``. A map is drawn per window, so it never exists in full.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import torch.nn as nn

from crossspec.errors import ConfigError
from crossspec.io.hint_file import HintFile, place_hints, read_hint_file
from crossspec.ops.hint_map import HintMap

HintsLike = "str | os.PathLike | HintFile | HintMap | None"


def takes_hints(model: nn.Module) -> bool:
    """Whether ``model.forward`` accepts ``hints=(ab, mask)`` (the model declares ``takes_hints = True``)."""
    return bool(getattr(model, "takes_hints", False))


def hint_models() -> list[str]:
    """Registered architectures whose models take hints (for error messages)."""
    from crossspec.models import create_model, list_models

    names = []
    for name in list_models(pretrained=False):
        try:
            if takes_hints(create_model(name, tiny=True)):
                names.append(name)
        except Exception:  # noqa: BLE001  a model that cannot be built tiny is simply not listed
            continue
    return names


def check_takes_hints(model: nn.Module, name: str) -> None:
    """``ConfigError`` when hints were given for a model that cannot use them."""
    if not takes_hints(model):
        which = ", ".join(hint_models()) or "none registered"
        raise ConfigError(f"--hints: model {name!r} takes no colour hints; models that do: {which}")


def load_hints(hints: Any) -> HintFile | HintMap | None:
    """A hint file path is read and checked now (before any work); parsed hints pass through."""
    if hints is None or isinstance(hints, (HintFile, HintMap)):
        return hints
    if isinstance(hints, (str, os.PathLike)):
        return read_hint_file(hints)
    raise TypeError(f"hints must be a hint file path, a HintFile or a HintMap, not {type(hints).__name__}")


def hint_map_for(hints: HintFile | HintMap | None, height: int, width: int, transform: Any = None) -> HintMap | None:
    """Place ``hints`` on an ``height x width`` image with geotransform ``transform`` (``None``: not
    georeferenced); a ready map must have the image's size."""
    if hints is None:
        return None
    if isinstance(hints, HintMap):
        if (hints.height, hints.width) != (height, width):
            raise ConfigError(f"hints: the hint map is {hints.height} x {hints.width} pixels, "
                              f"the image {height} x {width}")
        return hints
    return place_hints(hints, height, width, transform)


def raster_transform(ds: Any) -> Any:
    """A rasterio dataset's geotransform, or ``None`` when it is not georeferenced."""
    if ds.crs is None and ds.transform.is_identity:
        return None
    return ds.transform


def with_hint_rows(read_rows: Callable, hint_map: HintMap | None, x_offset: int = 0) -> Callable:
    """Wrap ``read_rows(y, n) -> (data (n, w), valid)`` of columns ``x_offset:x_offset+w`` so that
    ``data`` becomes ``(n, w, 4)``: the input and the hint map of the same rows and columns."""
    if hint_map is None:
        return read_rows

    def read(y: int, n: int):
        data, valid = read_rows(y, n)
        if data.ndim != 2:
            raise ConfigError("--hints: hint-guided models take one input band, not a multi-band input")
        rows = data.shape[0]
        hints = hint_map.window(y, x_offset, rows, data.shape[1])
        return np.concatenate([data[..., None].astype(np.float32, copy=False), hints], axis=-1), valid

    return read


def check_hinted_predictor(predict: Callable, hint_map: HintMap | None) -> None:
    """Hints need a predictor built with ``hinted=True``, and a hinted predictor needs hints."""
    hinted = bool(getattr(predict, "hinted", False))
    if hint_map is not None and not hinted:
        raise ConfigError("hints given, but the predictor was not built for them (make_predictor(..., hinted=True))")
    if hint_map is None and hinted:
        raise ConfigError("a predictor built with hinted=True needs hints; pass hints= (or build it without)")
