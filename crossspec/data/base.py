"""The dataset contract (:class:`ColorizationDataset`) and the pieces the datasets share.

A sample is ``{"input": (C, H, W) float32 in [0, 1] (C = 1 but for multi-band raster pairs),
"target": (3, H, W) float32 in [0, 1] (paired data), "name": str, "key": str, "domain": "nir" |
"gray"}`` plus, for data with nodata, ``"mask": (1, H, W)`` (1 = valid pixel); see CONTRIBUTING.md.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from crossspec import domains
from crossspec.color import rgb_to_luminance
from crossspec.errors import DataError
from crossspec.io.image import IMAGE_EXTENSIONS, load_image

Transform = Callable[[dict], dict]


class ColorizationDataset(Dataset):
    """What every crossspec dataset is (torchgeo style), written once.

    - ``__init__(root, split=..., transforms=None, ...)`` ends by calling :meth:`_verify`, which
      raises ``DataError`` saying what is missing and how to get it;
    - :meth:`load` ``(index)`` returns the sample dict before any transform; ``__getitem__`` is
      ``transforms(load(index))``: the transforms take and return that dict;
    - ``keys``: the matching keys the samples carry (one per sample; raster pairs: their scenes);
    - ``domain``: "nir" or "gray"; ``root``: the data folder (``None`` for generated data);
    - :meth:`sizes`: ``{file: (height, width, PIL mode)}`` from file headers, for datasets whose
      images may be too small or single-channel (checked before training), else ``None``.
    """

    root: Path | None = None
    domain: str = "nir"
    transforms: Transform | None = None

    @property
    def keys(self) -> list[str]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> dict:
        """Sample ``index`` without the transforms."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        return apply(self.transforms, self.load(index))

    def sizes(self) -> dict[Path, tuple[int, int, str]] | None:
        return None

    def _verify(self) -> None:
        raise NotImplementedError


def check_domain(domain: str) -> str:
    return domains.check_domain(domain, "domain", DataError)


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    """``(H, W, C)`` float32 array -> ``(C, H, W)`` tensor."""
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def load_pair(input_path: Path, target_path: Path, key: str, domain: str, name: str | None = None,
              input_from_target: bool = False) -> dict:
    """Read one pair into a sample dict.

    ``input_from_target`` makes a gray-domain sample from the RGB target (BT.601 luminance) and
    ignores ``input_path``; otherwise the input file must be single-channel (or gray saved as RGB).
    """
    target = to_tensor(load_image(target_path, "rgb"))
    if input_from_target:
        x = rgb_to_luminance(target)
    else:
        x = to_tensor(load_image(input_path, "gray"))
        if x.shape[-2:] != target.shape[-2:]:
            raise DataError(f"{input_path}: input is {tuple(x.shape[-2:])} but its target {target_path.name} "
                            f"is {tuple(target.shape[-2:])}; pairs must be registered at the same size")
    return {"input": x, "target": target, "name": name or Path(input_path).stem, "key": key, "domain": domain}


def apply(transforms: Transform | None, sample: dict) -> dict:
    return transforms(sample) if transforms is not None else sample


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (hidden files and crossspec temporaries skipped), sorted."""
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
                  and p.is_file())


def as_root(root: str | os.PathLike | None, what: str) -> Path:
    if root is None:
        raise DataError(f"root: the {what} dataset needs a root folder (root=...)")
    return Path(root).expanduser()
