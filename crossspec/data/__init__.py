"""Datasets (torchgeo style) and paired transforms.

Every dataset yields the sample dict of CONTRIBUTING.md: ``input`` (1, H, W), ``target`` (3, H, W),
float32 in [0, 1], plus ``name``, ``key`` and ``domain``. ``build_dataset`` makes one by name.
"""
from __future__ import annotations

import inspect
import os

from crossspec.data.demo import Demo
from crossspec.data.epfl import RGBNIRScene
from crossspec.data.folders import PairedFolders, RGBFolderGray
from crossspec.data.raster_pairs import RasterPairs
from crossspec.data.vcip2020 import VCIP2020
from crossspec.errors import ConfigError, DataError

DATASETS = {"vcip2020": VCIP2020, "epfl": RGBNIRScene, "paired": PairedFolders, "rgb-folder": RGBFolderGray,
            "demo": Demo, "raster-pairs": RasterPairs}
_DEFAULT_SPLIT = {"vcip2020": "train", "epfl": "all", "demo": "train", "raster-pairs": "train"}


def build_dataset(name: str, root: str | os.PathLike | None = None, split: str | None = None, **kw):
    """Dataset ``name`` ("vcip2020" | "epfl" | "paired" | "rgb-folder" | "demo" | "raster-pairs").

    ``root`` is the data folder (for "paired": the input folder, with ``target_dir=`` given;
    unused by "demo"). ``split`` applies to vcip2020, epfl, demo and rgb-folder ("all", or a hashed
    "train" / "val" part); "paired" has a single split (None or "all"). Other keywords go to the dataset (``transforms``, ``domain``,
    ``checksum``, ``categories``, ``size``, ``length``, ``seed``, ``recursive``; raster-pairs:
    ``manifest``, ``input_bands``, ``window``, ``split_mode``, ...); an unknown one is a
    ``ConfigError`` naming it.
    """
    if name not in DATASETS:
        raise ConfigError(f"dataset {name!r}: unknown; choose one of {', '.join(DATASETS)}")
    cls = DATASETS[name]
    if name == "paired":
        if split not in (None, "all"):
            raise ConfigError(f"split {split!r}: the paired dataset has no splits (use separate folders)")
    elif name == "rgb-folder":
        if kw.pop("domain", "gray") != "gray":
            raise ConfigError("domain: the rgb-folder dataset is gray-domain only (input = luminance)")
        kw["split"] = split if split is not None else "all"
    else:
        kw["split"] = split if split is not None else _DEFAULT_SPLIT[name]
    params = inspect.signature(cls).parameters
    unknown = [k for k in kw if k not in params]
    if unknown:
        allowed = [p for p in params if p not in ("root", "input_dir")]
        raise ConfigError(f"{name}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(allowed)}")
    if name == "paired":
        if root is None or "target_dir" not in kw:
            raise ConfigError("paired: needs root (the input folder) and target_dir=...")
        return cls(root, **kw)
    if name == "demo":
        return cls(**kw)
    if root is None and name != "raster-pairs":  # a manifest may carry absolute paths
        raise DataError(f"{name}: root folder is required (root=... / data.root in the config)")
    return cls(root, **kw)


__all__ = ["DATASETS", "Demo", "PairedFolders", "RGBFolderGray", "RasterPairs", "RGBNIRScene", "VCIP2020", "build_dataset"]
