"""Training pairs from your own multispectral rasters: input bands (NIR, ...) in, RGB bands as target.

``RasterPairs(root, split, manifest=...)`` (``data.dataset: raster-pairs`` in a config, options in
``data.kwargs``) draws windows from the scenes of a manifest (:mod:`crossspec.data.scenes`):

- ``input_bands``: ``"nir"`` (default), ``"nir+swir"``, ``"cir"`` (NIR, red, green -> true colour)
  or a list of roles. The model's ``in_channels`` must equal their number (``model.kwargs.in_channels``
  for ``unet``; the trainer checks it).
- Splits never share ground. Scenes marked ``split: test`` in the manifest are held out entirely
  (``split="test"``; never in train or val). The others are split ``split_mode="file"`` (whole scenes:
  ``split: val`` in the manifest, else a stable hash of the scene name picks ``val_fraction`` of
  them) or ``"block"`` (each scene is cut into ``block`` x ``block`` pixel blocks, a hash of
  ``(scene, block row, block column)`` assigns each block to train or val, and every window lies
  inside one block). ``"all"`` is train and val together (what ``nir-gain`` is fitted on).
- Windows are ``window`` pixels square (after optional resampling to ``gsd`` metres per pixel via
  rasterio ``out_shape``; each scene stays in its own CRS and grid). A window with more than
  ``max_nodata`` of its pixels invalid is redrawn (up to ``tries`` times, then the best is kept).
  Invalid pixels (declared nodata, NaN, 0 with ``fill_zero``, outside the scene) are 0 in ``input``
  and ``target`` and 0 in ``mask``, so the loss can ignore them.
- Training windows are random (torch's generator, which the trainer seeds per sample and epoch);
  ``val``/``test``/``all`` windows are fixed by ``seed`` and the index. ``length`` windows make a
  training epoch; the other splits hold ``eval_length`` windows.
- Streaming: only file headers are kept; each sample opens its files and reads one window.

Sample: ``{"input": (C, H, W), "target": (3, H, W), "mask": (1, H, W)`` float32 (1 = valid),
``"name"``, ``"key"`` (``scene@row,col``), ``"domain": "nir"}``.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from crossspec.data.base import ColorizationDataset, Transform
from crossspec.data.scenes import (TARGET_ROLES, Scene, SceneGrid, SceneReader, input_roles, load_manifest,
                                   scene_grid, scenes_from_folder)
from crossspec.errors import ConfigError, DataError

log = logging.getLogger("crossspec")

SPLITS = ("train", "val", "test", "all")
SPLIT_MODES = ("file", "block")


def hashed_fraction(text: str) -> float:
    """A stable number in [0, 1) from ``text`` (same on every machine and run)."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big") / 2**64


@dataclass
class _Entry:
    scene: Scene
    grid: SceneGrid
    reader: SceneReader
    span: int  # window side in the scene's own pixels
    blocks: list[tuple[int, int]] | None = None  # (row, col) origins of this split's blocks (block mode)
    block_span: int = 0


class RasterPairs(ColorizationDataset):
    """Windows of multispectral scenes as NIR -> RGB pairs (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None, split: str = "train", transforms: Transform | None = None,
                 *, manifest: str | os.PathLike | None = None, input_bands: str | Iterable[str] = "nir",
                 window: int = 256, length: int = 1000, eval_length: int = 64, split_mode: str = "file", block: int = 512,
                 val_fraction: float = 0.15, max_nodata: float = 0.5, tries: int = 10, gsd: float | None = None,
                 resampling: str = "nearest", seed: int = 0, scenes: list[Scene] | None = None,
                 folder_bands: dict[str, int] | None = None, preset: str | None = None,
                 domain: str = "nir") -> None:
        if split not in SPLITS:
            raise DataError(f"raster-pairs: split {split!r} is not one of {', '.join(SPLITS)}")
        if split_mode not in SPLIT_MODES:
            raise ConfigError(f"raster-pairs: split_mode {split_mode!r} is not one of {', '.join(SPLIT_MODES)}")
        if domain != "nir":
            raise ConfigError(f"raster-pairs: domain {domain!r}: raster pairs are NIR-domain data")
        if not 0.0 <= max_nodata < 1.0:
            raise ConfigError(f"raster-pairs: max_nodata must be in [0, 1), got {max_nodata}")
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"raster-pairs: val_fraction must be in (0, 1), got {val_fraction}")
        if window < 8 or length < 1 or eval_length < 1 or tries < 1:
            raise ConfigError("raster-pairs: window must be >= 8 and length, eval_length, tries >= 1")
        if gsd is not None and not gsd > 0:
            raise ConfigError(f"raster-pairs: gsd must be a positive pixel size, got {gsd}")
        if split_mode == "block" and block < window:
            raise ConfigError(f"raster-pairs: block ({block}) must be at least the window ({window})")
        self.root, self.split, self.transforms = root, split, transforms
        self.manifest = manifest
        self.input_roles = input_roles(input_bands)
        # an epoch of random training windows; a fixed set of eval_length windows for val / test / all
        self.length = int(length) if split == "train" else int(eval_length)
        self.window, self.split_mode, self.block = int(window), split_mode, int(block)
        self.val_fraction, self.max_nodata, self.tries = float(val_fraction), float(max_nodata), int(tries)
        self.gsd, self.resampling, self.seed = gsd, resampling, int(seed)
        self._given = scenes
        self._folder = (folder_bands, preset)
        self._verify()

    # ------------------------------------------------------------------------------------ setup
    def _load_scenes(self) -> list[Scene]:
        if self._given is not None:
            return list(self._given)
        if self.manifest is not None:
            return load_manifest(self.manifest, self.root)
        bands, preset = self._folder
        if self.root is None or bands is None or preset is None:
            raise DataError("raster-pairs: give manifest=FILE (and the data root), or root=FOLDER with "
                            "folder_bands={red: 1, green: 2, blue: 3, nir: 4} and preset=...")
        return scenes_from_folder(self.root, bands, preset)

    def _verify(self) -> None:
        scenes = self._load_scenes()
        need = (*self.input_roles, *TARGET_ROLES)
        lacking = [s.name for s in scenes if any(r not in s.bands for r in need)]
        if lacking:
            # e.g. nir+swir input: scenes without a SWIR band cannot serve; say which are dropped
            log.warning("raster-pairs: %d scene(s) lack a band of %s and are left out: %s", len(lacking),
                        "+".join(need), ", ".join(lacking))
            scenes = [s for s in scenes if s.name not in lacking]
        test = [s for s in scenes if s.split == "test"]
        pool = [s for s in scenes if s.split != "test"]
        if self.split == "test":
            chosen = test
        elif self.split_mode == "file" or self.split == "all":
            chosen = [s for s in pool if self.split == "all" or self._file_split(s, pool) == self.split]
        else:
            chosen = pool
        self.entries: list[_Entry] = []
        for s in chosen:
            grid = scene_grid(s)
            span = self.window if self.gsd is None else max(1, round(self.window * self.gsd / grid.res))
            entry = _Entry(s, grid, SceneReader(s, grid, self.resampling), span)
            if self.split_mode == "block" and self.split in ("train", "val"):
                bspan = max(span, round(self.block * span / self.window))  # block side in scene pixels
                entry.blocks = [(r, c) for r in range(0, grid.height, bspan) for c in range(0, grid.width, bspan)
                                if (hashed_fraction(f"{s.name}:{r // bspan}:{c // bspan}") < self.val_fraction)
                                == (self.split == "val")]
                entry.block_span = bspan
                if not entry.blocks:
                    continue
            self.entries.append(entry)
        if not self.entries:
            where = self.manifest or self.root
            dropped = f"; {len(lacking)} scene(s) lack a band of {'+'.join(need)}" if lacking else ""
            raise DataError(f"{where}: the raster-pairs {self.split!r} split is empty ({len(test)} test scene(s), "
                            f"{len(pool)} others, split_mode={self.split_mode}{dropped}); mark scenes 'split: test'/'val' "
                            "in the manifest, change val_fraction or input_bands")
        self.scenes = [e.scene for e in self.entries]
        self._keys = [e.scene.name for e in self.entries]

    def _file_split(self, scene: Scene, pool: list[Scene]) -> str:
        if scene.split in ("train", "val"):
            return scene.split
        return "val" if hashed_fraction(scene.name) < self.val_fraction else "train"

    # ---------------------------------------------------------------------------------- samples
    def __len__(self) -> int:
        return self.length

    def _rng(self, index: int) -> np.random.Generator:
        if self.split == "train":
            # torch's generator is what the trainer seeds per (seed, epoch, index)
            return np.random.default_rng(int(torch.randint(0, 2**62, (1,))))
        return np.random.default_rng([self.seed, index])

    def _draw_window(self, entry: _Entry, rng: np.random.Generator) -> tuple[int, int]:
        span, g = entry.span, entry.grid
        if entry.blocks is not None:
            r, c = entry.blocks[int(rng.integers(len(entry.blocks)))]
            bs = entry.block_span
            h, w = min(bs, g.height - r), min(bs, g.width - c)
        else:
            r, c, h, w = 0, 0, g.height, g.width
        return r + int(rng.integers(0, max(h - span, 0) + 1)), c + int(rng.integers(0, max(w - span, 0) + 1))

    def read_window(self, entry: _Entry, row: int, col: int) -> dict:
        """The sample at window origin ``(row, col)`` of ``entry`` (no transforms)."""
        span = entry.span
        if entry.blocks is not None:
            # a window never leaves its block: the part past the block's edge is masked like nodata
            bs = entry.block_span
            h = min(span, (row // bs + 1) * bs - row)
            w = min(span, (col // bs + 1) * bs - col)
        else:
            h = w = span
        size = (self.window, self.window)
        scale_h, scale_w = round(h * self.window / span), round(w * self.window / span)
        x, ok_in = entry.reader.read(self.input_roles, (row, col, h, w), (scale_h, scale_w), kind="input")
        y, ok_t = entry.reader.read(TARGET_ROLES, (row, col, h, w), (scale_h, scale_w), kind="target")
        ok = ok_in & ok_t
        inp = np.zeros((len(self.input_roles), *size), np.float32)
        tgt = np.zeros((3, *size), np.float32)
        mask = np.zeros((1, *size), np.float32)
        inp[:, :scale_h, :scale_w] = x * ok
        tgt[:, :scale_h, :scale_w] = y * ok
        mask[0, :scale_h, :scale_w] = ok
        name = entry.scene.name
        return {"input": torch.from_numpy(inp), "target": torch.from_numpy(tgt), "mask": torch.from_numpy(mask),
                "name": name, "key": f"{name}@{row},{col}", "domain": "nir"}

    @property
    def keys(self) -> list[str]:
        """The scenes of this split (windows are drawn from them)."""
        return self._keys

    def load(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise IndexError(index)
        rng = self._rng(index)
        entry = self.entries[int(rng.integers(len(self.entries)))]
        best = None
        for _ in range(self.tries):
            row, col = self._draw_window(entry, rng)
            sample = self.read_window(entry, row, col)
            frac = float(sample["mask"].mean())
            if best is None or frac > best[0]:
                best = (frac, sample)
            if 1.0 - frac <= self.max_nodata:
                break
        return best[1]

    # ------------------------------------------------------------------------------- whole scenes
    def scene_blocks(self, tile: int = 512) -> Iterable[dict]:
        """Every scene of the split in non-overlapping ``tile`` windows (full resolution, no
        transforms): for statistics over whole scenes, e.g. fitting ``nir-gain``."""
        for e in self.entries:
            for r in range(0, e.grid.height, tile):
                for c in range(0, e.grid.width, tile):
                    h, w = min(tile, e.grid.height - r), min(tile, e.grid.width - c)
                    x, ok_in = e.reader.read(self.input_roles, (r, c, h, w), kind="input")
                    y, ok_t = e.reader.read(TARGET_ROLES, (r, c, h, w), kind="target")
                    ok = (ok_in & ok_t)[None].astype(np.float32)
                    yield {"input": torch.from_numpy(x * ok), "target": torch.from_numpy(y * ok),
                           "mask": torch.from_numpy(ok), "name": e.scene.name, "key": f"{e.scene.name}@{r},{c}",
                           "domain": "nir"}


__all__ = ["RasterPairs", "hashed_fraction"]
