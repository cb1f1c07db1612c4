"""The ab-prior file: the class-rebalancing statistics of a training set, as ``.npz``.

Written by ``crossspec data ab-prior`` (:func:`crossspec.data.ab_prior.ab_prior_from_dataset`),
read by the ``ab_ce`` loss term (``loss.options.ab_prior: PATH``). Arrays:

==================  =========  ====================================================================
``centres``         (Q, 2)     ab centres of the in-gamut bins the statistics are over (float32)
``counts``          (Q,)       training pixels nearest each bin (float64)
``prior``           (Q,)       ``counts`` normalised: the empirical distribution ``p``
``prior_smoothed``  (Q,)       ``p~``: ``p`` smoothed by a Gaussian of width ``sigma`` over ab
``weights``         (Q,)       rebalancing weights ``w``, ``sum p~ w = 1`` (float64)
``sigma``, ``lam``  scalars    the smoothing width and the mixing weight ``lam`` used
``grid``            scalar     the ab cell size
``source``          string     what the statistics were computed from (dataset, root, split, pixels)
==================  =========  ====================================================================
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossspec.errors import file_error
from crossspec.io.atomic import atomic_path

_ARRAYS = ("centres", "counts", "prior", "prior_smoothed", "weights")
_SCALARS = ("sigma", "lam", "grid")


@dataclass(frozen=True)
class AbPrior:
    """Class-rebalancing statistics over ``Q`` ab bins (NumPy arrays, see the module docstring)."""

    centres: np.ndarray
    counts: np.ndarray
    prior: np.ndarray
    prior_smoothed: np.ndarray
    weights: np.ndarray
    sigma: float
    lam: float
    grid: float
    source: str = ""

    @property
    def bins(self) -> int:
        return int(self.centres.shape[0])


def save_ab_prior(prior: AbPrior, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``prior`` to ``path`` (must end in ``.npz``) atomically; refuses to replace a file
    unless ``overwrite``."""
    path = Path(path)
    if path.suffix != ".npz":
        raise file_error(path, "an ab-prior file must end in .npz")
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append .npz to a name
            np.savez(fh, **{k: np.asarray(getattr(prior, k)) for k in _ARRAYS + _SCALARS},
                     source=np.asarray(prior.source))
    return path


def load_ab_prior(path: str | os.PathLike) -> AbPrior:
    """Read and check an ab-prior file; a missing or malformed one is a ``DataError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise file_error(path, "ab-prior file not found (make one with `crossspec data ab-prior --data ROOT -o FILE`)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _ARRAYS + _SCALARS if k not in npz.files]
            if missing:
                raise file_error(path, f"not an ab-prior file: lacks {', '.join(missing)}")
            arrays = {k: np.asarray(npz[k]) for k in _ARRAYS}
            scalars = {k: float(npz[k]) for k in _SCALARS}
            source = str(npz["source"]) if "source" in npz.files else ""
    except (OSError, ValueError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        raise file_error(path, f"cannot read it as an ab-prior .npz ({exc})") from None
    q = arrays["centres"].shape[0] if arrays["centres"].ndim == 2 else -1
    if arrays["centres"].shape != (q, 2) or q < 1:
        raise file_error(path, f"centres must be (Q, 2), got {arrays['centres'].shape}")
    for k in _ARRAYS[1:]:
        a = arrays[k]
        if a.shape != (q,):
            raise file_error(path, f"{k} must have shape ({q},) like centres, got {a.shape}")
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise file_error(path, f"{k} holds negative or non-finite values")
    if not np.all(arrays["weights"] > 0):
        raise file_error(path, "weights must all be positive")
    return AbPrior(centres=arrays["centres"].astype(np.float32), counts=arrays["counts"].astype(np.float64),
                   prior=arrays["prior"].astype(np.float64), prior_smoothed=arrays["prior_smoothed"].astype(np.float64),
                   weights=arrays["weights"].astype(np.float64), source=source, **scalars)
