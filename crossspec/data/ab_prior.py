"""The empirical ab prior of a paired dataset's RGB targets, for Zhang'16 class rebalancing.

Every target pixel (at full resolution; raster nodata, ``sample["mask"] == 0``, left out) is
converted to Lab through kornia and counted in its nearest in-gamut bin; the counts become ``p``,
``p~`` and the weights ``w`` of :mod:`crossspec.ops.ab_rebalance`. The input band is not used, so
the prior of a dataset is the same for its ``nir`` and ``gray`` domains.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from crossspec.color import rgb_to_lab
from crossspec.errors import DataError
from crossspec.io.ab_prior import AbPrior
from crossspec.ops.ab_gamut import GRID, SIGMA, gamut_centres
from crossspec.ops.ab_rebalance import LAMBDA, bin_counts, rebalance_weights, smooth_prior


def ab_prior_from_dataset(dataset: Sequence[dict], *, sigma: float = SIGMA, lam: float = LAMBDA,
                          grid: float = GRID, source: str = "", progress: bool = False) -> AbPrior:
    """Count the nearest bin of every valid target pixel of ``dataset`` and derive the prior.

    ``dataset[i]`` is a sample dict with ``"target"`` ``(3, H, W)`` RGB in [0, 1] (and optionally
    ``"mask"`` ``(1, H, W)``). ``source`` is recorded in the result.
    """
    centres = gamut_centres(grid)
    counts = torch.zeros(centres.shape[0], dtype=torch.float64)
    indices = range(len(dataset))
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc="ab prior", unit="image")
    for i in indices:
        sample = dataset[i]
        if "target" not in sample:
            raise DataError(f"{source or 'dataset'}: sample {sample.get('name', i)!r} has no RGB target; "
                            "the ab prior needs paired data")
        rgb = sample["target"].unsqueeze(0).float()
        mask = sample.get("mask")
        counts += bin_counts(rgb_to_lab(rgb)[:, 1:], centres, None if mask is None else mask.unsqueeze(0))
    images = len(dataset)
    total = float(counts.sum())
    if total <= 0:
        raise DataError(f"{source or 'dataset'}: no valid target pixel to compute the ab prior from")
    prior = counts / total
    smoothed = smooth_prior(prior, centres, sigma)
    weights = rebalance_weights(smoothed, lam)
    desc = f"{source}; {images} images, {int(total)} pixels" if source else f"{images} images, {int(total)} pixels"
    return AbPrior(centres=centres.numpy(), counts=counts.numpy(), prior=prior.numpy(),
                   prior_smoothed=smoothed.numpy(), weights=weights.numpy(), sigma=float(sigma), lam=float(lam),
                   grid=float(grid), source=desc)


def describe(prior: AbPrior, top: int = 5) -> str:
    """A few lines about a prior: bins used, the most frequent bins and the weight range."""
    used = int(np.count_nonzero(prior.counts))
    order = np.argsort(-prior.prior)[:top]
    common = ", ".join(f"({prior.centres[i][0]:+.0f},{prior.centres[i][1]:+.0f}) {100 * prior.prior[i]:.1f}%"
                       for i in order)
    return (f"{prior.bins} bins, {used} seen; most frequent: {common}; "
            f"weights {prior.weights.min():.3f}..{prior.weights.max():.3f} (lam {prior.lam:g}, sigma {prior.sigma:g})")
