"""Training data plumbing: datasets from the config, a resumable deterministic batch order,
per-sample seeded augmentation, and the checks that run before any training starts.

Exact resume rests on two facts made here:
- the order of samples is a pure function of ``(seed, epoch)`` (a seeded permutation), so the
  position inside an epoch is just "how many batches were already taken";
- the random augmentation of a sample is a pure function of ``(seed, epoch, index)`` (each sample
  runs its transforms under its own seeded RNG), so it does not depend on which worker or process
  loads it, nor on what was loaded before.
"""
from __future__ import annotations

import random
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from crossspec.config import Config, DataConfig
from crossspec.data.base import ColorizationDataset
from crossspec.errors import ConfigError, DataError


class SeededDataset(Dataset):
    """Wrap a dataset so that item ``(epoch, index)`` is augmented under a fixed seed.

    The global RNG states (torch, numpy, python) are restored afterwards, so loading data never
    shifts the random stream of the training loop itself.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        epoch, index = key
        s = (self.seed * 1_000_003 + epoch * 7_919 + index) % (2**31 - 1)
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            random.seed(s)
            np.random.seed(s)
            try:
                return self.dataset[index]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)


class ResumableBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(epoch, index)`` keys for one process.

    Each epoch is a permutation of the dataset drawn from ``seed + epoch``; it is cut into global
    batches of ``global_batch`` (the incomplete tail is dropped so every step sees a full batch),
    and process ``rank`` takes its contiguous share of each global batch. ``set_epoch(epoch,
    start)`` starts the epoch at batch ``start`` (resume).
    """

    def __init__(self, n: int, global_batch: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if global_batch % world_size:
            raise ConfigError(
                f"data.batch_size: the global batch {global_batch} is not divisible by the {world_size} processes"
            )
        if n < global_batch:
            raise DataError(f"training split has {n} samples, fewer than data.batch_size={global_batch}")
        self.n, self.global_batch, self.seed = n, global_batch, int(seed)
        self.rank, self.world_size = rank, world_size
        self.per_rank = global_batch // world_size
        self.epoch, self.start = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.global_batch

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def order(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        perm = self.order(self.epoch)
        for b in range(self.start, self.batches_per_epoch):
            lo = b * self.global_batch + self.rank * self.per_rank
            yield [(self.epoch, i) for i in perm[lo : lo + self.per_rank]]

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start


# --------------------------------------------------------------------------------------------


def train_transforms(d: DataConfig):
    """Paired random crop (optionally resized), horizontal flip or all 8 flips/quarter turns, and input
    contrast jitter, from ``crossspec.data.transforms``."""
    from crossspec.data import transforms as T

    steps = []
    if d.resize is not None and d.resize != d.crop:
        # a random crop x crop window resized to resize x resize
        steps.append(T.RandomResizedCrop(size=d.resize, crop=d.crop))
    else:
        steps.append(T.RandomCrop(d.crop))
    if d.dihedral:
        steps.append(T.RandomDihedral())
    elif d.hflip:
        steps.append(T.RandomHorizontalFlip())
    if d.contrast is not None:
        steps.append(T.RandomContrast(d.contrast))
    return T.Compose(steps)


def build_split(name: str, root: str | None, split: str | None, domain: str, kwargs: dict, transforms) -> Dataset:
    """Dataset ``name`` (``crossspec.data.build_dataset``) for one split, in ``domain`` unless
    ``kwargs`` names one, with ``transforms``."""
    from crossspec.data import build_dataset

    extra = dict(kwargs)
    extra.setdefault("domain", domain)
    return build_dataset(name, root=root, split=split, transforms=transforms, **extra)


def build_datasets(cfg: Config) -> tuple[Dataset, Dataset]:
    """``(train, val)`` datasets named by ``cfg.data``; train carries the random augmentation."""
    d = cfg.data
    train = build_split(d.dataset, d.root, d.train_split, cfg.domain, d.kwargs, train_transforms(d))
    val = build_split(d.dataset, d.root, d.val_split, cfg.domain, d.kwargs, None)
    if d.val_limit is not None and d.val_limit < len(val):
        val = torch.utils.data.Subset(val, range(d.val_limit))
    return train, val


def _raw(dataset: Dataset) -> Dataset:
    # The untransformed dataset, to check true image sizes.
    inner = dataset.dataset if isinstance(dataset, SeededDataset) else dataset
    return inner


def check_folder_images(dataset: Dataset, crop: int, where: str) -> None:
    """Every image of a folder source (not a sample of them) is RGB and at least ``crop`` square."""
    sizes = dataset.sizes() if isinstance(dataset, ColorizationDataset) else None
    if sizes is None:
        return
    small, single = [], []
    for f, (h, w, mode) in sizes.items():
        if mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
            single.append(f"{f.name} ({mode})")
        elif h < crop or w < crop:
            small.append(f"{f.name} ({h}x{w})")
    if single:
        raise DataError(f"{where}: {len(single)} image(s) have a single channel, no colour to learn from: "
                        + ", ".join(single[:5]) + (" ..." if len(single) > 5 else ""))
    if small:
        raise DataError(f"{where}: {len(small)} image(s) smaller than data.crop={crop}: " + ", ".join(small[:5])
                        + (" ..." if len(small) > 5 else "") + "; lower data.crop or remove them")


def check_dataset(dataset: Dataset, *, split: str, crop: int | None, domain: str, paired: bool = True,
                  probe: int = 8) -> None:
    """Raise DataError before training when the data cannot work: empty split, samples without
    targets, the wrong domain, or images smaller than the crop (checked on ``probe`` evenly spaced
    samples, before their transforms for a :class:`~crossspec.data.base.ColorizationDataset`; other
    datasets are read as they are)."""
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise DataError(f"split {split!r} is empty")
    ds = _raw(dataset)
    if crop is not None:
        check_folder_images(ds, crop, f"split {split!r}")  # every file, by name, before the sampled checks
    read = ds.load if isinstance(ds, ColorizationDataset) else ds.__getitem__
    idx = sorted({round(i * (n - 1) / max(1, probe - 1)) for i in range(min(probe, n))})
    for i in idx:
        sample = read(i)
        name = sample.get("name", f"#{i}")
        if "input" not in sample:
            raise DataError(f"split {split!r}, sample {name}: no 'input' tensor")
        if paired and "target" not in sample:
            raise DataError(f"split {split!r}, sample {name}: no 'target' (training needs paired data)")
        sd = sample.get("domain", domain)
        if sd != domain:
            raise DataError(f"split {split!r}, sample {name}: domain is {sd!r} but training --domain is {domain!r}")
        h, w = sample["input"].shape[-2:]
        if crop is not None and (h < crop or w < crop):
            raise DataError(
                f"split {split!r}, sample {name}: image is {h}x{w}, smaller than data.crop={crop}; "
                f"lower data.crop or use larger images"
            )


def check_input_channels(model: torch.nn.Module, dataset: Dataset, model_name: str) -> None:
    """Refuse data whose input has another number of bands than the model takes (raster pairs can
    feed NIR+SWIR or colour-infrared; a model's ``in_channels``, 1 when it has none, must match)."""
    ds = _raw(dataset)
    roles = getattr(ds, "input_roles", None)
    if roles is None:
        return  # single-band datasets: the sample checks cover them
    want = int(getattr(model, "in_channels", 1))
    if len(roles) != want:
        hint = (f"set model.kwargs.in_channels: {len(roles)}" if hasattr(model, "in_channels")
                else f"{model_name!r} takes one band only; use model.name: unet with in_channels: {len(roles)}")
        raise ConfigError(f"data.kwargs.input_bands: {'+'.join(roles)} gives {len(roles)} input band(s) but model "
                          f"{model_name!r} takes {want}; {hint}")
