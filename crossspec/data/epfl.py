"""EPFL RGB-NIR Scene dataset (Brown & Suesstrunk, CVPR 2011): 477 registered RGB/NIR photos in 9
categories, released as ``nirscene1/<category>/NNNN_{rgb,nir}.tiff``.

``root`` may be the folder holding ``nirscene1/``, ``nirscene1/`` itself, one category folder, or
any folder of ``NNNN_nir.<ext>`` / ``NNNN_rgb.<ext>`` pairs (TIFF, PNG or JPEG re-encodes).
Split (deterministic, per category, pairs sorted by file name): every 5th pair (positions 4, 9,
14, ... counting from 0) is ``test``, the rest ``train``; ``all`` is both.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from crossspec.data.base import ColorizationDataset, Transform, as_root, check_domain, image_files, load_pair
from crossspec.errors import DataError

CATEGORIES = ("country", "field", "forest", "indoor", "mountain", "oldbuilding", "street", "urban", "water")
TEST_EVERY = 5
_SPLITS = ("all", "train", "test")
_NIR = re.compile(r"^(.+)_nir$", re.IGNORECASE)
_HOW_TO_GET = ("download the EPFL RGB-NIR Scene dataset (nirscene1.zip, ivrl.epfl.ch/research-2/research-downloads/"
               "supplementary_material-cvpr11-index-html/) and unzip it so that root/nirscene1/<category>/NNNN_nir.tiff "
               "exist; see datasets/epfl-rgbnir-scene/README.md")


def _pairs_in(folder: Path) -> list[tuple[Path, Path]]:
    files = image_files(folder)
    rgb = {}
    for f in files:
        if f.stem.lower().endswith("_rgb"):
            rgb[f.stem[:-4].lower()] = f
    pairs = []
    for f in files:
        m = _NIR.match(f.stem)
        if m is None:
            continue
        partner = rgb.get(m.group(1).lower())
        if partner is None:
            raise DataError(f"{f}: NIR image has no RGB partner {m.group(1)}_rgb.* in {folder}")
        pairs.append((f, partner))
    return pairs


class RGBNIRScene(ColorizationDataset):
    """EPFL RGB-NIR Scene pairs at full resolution (about 1024x680, varying).

    Samples: ``input`` (1, H, W) NIR, ``target`` (3, H, W) RGB, float32 in [0, 1]; ``key``
    "<category>_<NNNN>"; ``name`` "<category>_<NNNN>_nir" (unique across categories); ``domain`` "nir"
    (or "gray" with ``domain="gray"``: input = BT.601 luminance of the RGB).
    """

    def __init__(self, root: str | os.PathLike, categories: list[str] | tuple[str, ...] | str | None = None,
                 split: str = "all", transforms: Transform | None = None, domain: str = "nir") -> None:
        self.root = as_root(root, "epfl")
        if split not in _SPLITS:
            raise DataError(f"split {split!r}: unknown RGB-NIR Scene split; valid splits are {', '.join(_SPLITS)}")
        self.split = split
        self.transforms = transforms
        self.domain = check_domain(domain)
        self.categories = [categories] if isinstance(categories, str) else (list(categories) if categories else None)
        self.items: list[tuple[str, str, Path, Path]] = []  # (key, name, nir, rgb)
        self._verify()

    def _verify(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"{self.root}: RGB-NIR Scene root folder not found; {_HOW_TO_GET}")
        base = self.root / "nirscene1" if (self.root / "nirscene1").is_dir() else self.root
        folders = {d.name: d for d in sorted(base.iterdir()) if d.is_dir() and not d.name.startswith(".")}
        direct = _pairs_in(base)
        groups: dict[str, list[tuple[Path, Path]]] = {}
        if direct:
            # root is a category folder or a plain folder of pairs
            groups[base.name] = direct
        else:
            for name, d in folders.items():
                pairs = _pairs_in(d)
                if pairs:
                    groups[name] = pairs
        if self.categories is not None:
            unknown = [c for c in self.categories if c not in groups]
            if unknown:
                raise DataError(f"{base}: categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} not found; "
                                f"found {', '.join(sorted(groups)) or 'none'}; {_HOW_TO_GET}")
            groups = {c: groups[c] for c in self.categories}
        if not groups:
            raise DataError(f"{base}: no NNNN_nir.* / NNNN_rgb.* pairs found (in the folder or its category "
                            f"subfolders); {_HOW_TO_GET}")
        for cat, pairs in sorted(groups.items()):
            for pos, (nir, rgb) in enumerate(pairs):
                is_test = pos % TEST_EVERY == TEST_EVERY - 1
                if self.split == "all" or (self.split == "test") == is_test:
                    stem = nir.stem[:-4]
                    self.items.append((f"{cat}_{stem}", f"{cat}_{nir.stem}", nir, rgb))

    @property
    def keys(self) -> list[str]:
        return [item[0] for item in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> dict:
        key, name, nir, rgb = self.items[i]
        return load_pair(nir, rgb, key, self.domain, name=name, input_from_target=self.domain == "gray")

    def __repr__(self) -> str:
        return f"RGBNIRScene(root={str(self.root)!r}, split={self.split!r}, {len(self)} pairs)"
