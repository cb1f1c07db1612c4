"""Frozen-trunk feature cache (``train.cache_trunk``): run a frozen pretrained encoder once per
training image instead of once per step.

A colorizer on a frozen ImageNet trunk (``unet-vgg16``) spends about a third of a CPU training
step in the trunk's forward pass, which gives the same answer every epoch. :class:`TrunkCache`
computes, before the first step, the outputs of the model's cacheable stages
(``model.trunk_cache_stages``) for every whole training image, and for its mirror image when
``data.hflip`` is on, and keeps them in memory as float16. A training sample is then a random
crop of the image *and* of those feature maps, at an offset that is a multiple of the deepest
cached stage's stride, so every cached map is cut on its own pixel grid; the model gets them as
``forward(x, trunk_feats={stage: (B, C, h, w)})`` and runs only what is not cached.

Two things differ from uncached training, both on purpose:
- crops start on a grid of ``2**s`` pixels (16 for stage 4) instead of anywhere;
- the cached features of a crop saw the whole image (as they do at inference), not a crop padded
  with zeros.
Only augmentations that the cache can reproduce are allowed (crop, horizontal mirror):
``config.check_config`` refuses ``data.resize``, ``data.dihedral`` and ``data.contrast`` with it.

Samples follow the dataset contract (``crossspec.data.base``) plus ``"trunk.<stage>"`` tensors
``(C_s, crop/2**s, crop/2**s)`` float32; randomness comes from torch's global generator, which the
trainer seeds per sample, so resume stays exact.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from crossspec.errors import ConfigError, DataError
from crossspec.models.factory import model_info

log = logging.getLogger(__name__)

_IMAGE_KEYS = ("input", "target", "mask")
TRUNK_PREFIX = "trunk."


def trunk_features(batch: dict[str, Any]) -> dict[int, torch.Tensor]:
    """The cached trunk features a batch carries, as ``{stage: tensor}`` (empty when none)."""
    return {int(k[len(TRUNK_PREFIX):]): v for k, v in batch.items() if k.startswith(TRUNK_PREFIX)}


def _mirror(sample: dict) -> dict:
    out = dict(sample)
    for k in _IMAGE_KEYS:
        if k in out:
            out[k] = out[k].flip(-1)
    return out


class TrunkCache(Dataset):
    """Training samples of ``dataset`` with ``model``'s frozen-trunk features precomputed.

    Args:
        dataset: the paired training split; its :meth:`load` (the sample before transforms) is read
            once per index, so it must return the same image every time.
        model: a model with ``trunk_cache_stages``, ``trunk_cache(x)`` and ``size_multiple``.
        crop: side of the square training crop, a multiple of ``model.size_multiple``.
        hflip: also cache each mirrored image and pick one of the two at random per sample.
        device: where the trunk runs while caching.
        max_gb: refuse (``ConfigError``) when the cache would need more memory than this.
    """

    def __init__(self, dataset: Dataset, model: nn.Module, *, crop: int, hflip: bool, device: torch.device,
                 max_gb: float) -> None:
        stages = tuple(getattr(model, "trunk_cache_stages", ()))
        info = model_info(model)
        name = info.name if info is not None else type(model).__name__
        if not stages:
            raise ConfigError(f"train.cache_trunk: model {name!r} has no frozen trunk stage to cache "
                              "(it needs a frozen pretrained encoder, e.g. unet-vgg16 with frozen_stages >= 2)")
        if not hasattr(dataset, "load"):
            raise ConfigError("train.cache_trunk: the training dataset has no load() (a crossspec dataset is needed)")
        mult = int(model.size_multiple)
        if crop % mult:
            raise ConfigError(f"data.crop: with train.cache_trunk the crop must be a multiple of {mult}, got {crop}")
        self.dataset, self.crop, self.hflip, self.stages = dataset, int(crop), bool(hflip), stages
        self.align = 2 ** max(stages)
        self.items: list[tuple[dict, list[dict[int, torch.Tensor]]]] = []
        versions = 2 if hflip else 1
        start, nbytes = time.perf_counter(), 0
        was_training = model.training
        model.eval()  # frozen trunk either way; eval() keeps any norm layer's statistics fixed
        try:
            for i in range(len(dataset)):  # type: ignore[arg-type]
                sample = self._trimmed(dataset.load(i), mult)
                feats = []
                for v in range(versions):
                    x = (_mirror(sample) if v else sample)["input"][None].to(device)
                    feats.append({s: f[0].to("cpu", torch.float16) for s, f in model.trunk_cache(x).items()})
                nbytes += sum(f.numel() * 2 for fs in feats for f in fs.values())
                if i == 0 and nbytes * len(dataset) > max_gb * 2**30:  # type: ignore[arg-type]
                    raise ConfigError(
                        f"train.cache_trunk: the cache would take about {nbytes * len(dataset) / 2**30:.1f} GB "
                        f"({len(dataset)} images x {versions} versions), more than train.cache_trunk_gb={max_gb}; "
                        "raise that limit or turn the cache off")
                self.items.append((sample, feats))
        finally:
            model.train(was_training)
        log.info("trunk cache: %d images x %d versions, stages %s, %.2f GB, built in %.0f s", len(self.items),
                 versions, list(stages), nbytes / 2**30, time.perf_counter() - start)

    def _trimmed(self, sample: dict, mult: int) -> dict:
        h, w = sample["input"].shape[-2:]
        if h < self.crop or w < self.crop:
            raise DataError(f"sample {sample.get('name', '?')}: image is {h}x{w}, smaller than the "
                            f"{self.crop}x{self.crop} crop")
        h, w = h - h % mult, w - w % mult  # the trunk sees what the model would see unpadded
        return {k: (v[..., :h, :w] if k in _IMAGE_KEYS else v) for k, v in sample.items()}

    def __len__(self) -> int:
        return len(self.items)

    def _offset(self, size: int) -> int:
        return self.align * int(torch.randint(0, (size - self.crop) // self.align + 1, (1,)))

    def __getitem__(self, index: int) -> dict:
        sample, feats = self.items[index]
        v = int(self.hflip and bool(torch.rand(1) < 0.5))
        if v:
            sample = _mirror(sample)
        h, w = sample["input"].shape[-2:]
        top, left, c = self._offset(h), self._offset(w), self.crop
        out = {k: (val[..., top:top + c, left:left + c] if k in _IMAGE_KEYS else val) for k, val in sample.items()}
        for s, f in feats[v].items():
            k = 2 ** s
            out[f"{TRUNK_PREFIX}{s}"] = f[:, top // k:(top + c) // k, left // k:(left + c) // k].float()
        return out
