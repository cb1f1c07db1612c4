"""Class rebalancing over the ab bins (Zhang, Isola & Efros 2016, section 2.2).

Natural images are mostly desaturated, so a plain cross-entropy over the ab bins learns to predict
grey-brown. The paper weights each pixel's loss by ``w[q*]``, ``q*`` the bin nearest its true ab:

1. ``p``: the empirical distribution of the training pixels' nearest bins;
2. ``p~``: ``p`` smoothed by a Gaussian of width ``sigma`` (5) over the ab plane, renormalised
   (mass that the kernel carries outside the gamut is dropped);
3. ``w ∝ ((1 - lam) p~ + lam / Q)^-1`` with ``lam = 0.5``, scaled so that ``E_p~[w] = sum_q p~_q w_q
   = 1``: the rebalanced loss has the scale of the plain one on the training distribution.

All vectors are ``(Q,)`` over the bins of :func:`crossspec.ops.ab_gamut.gamut_centres`.
"""
from __future__ import annotations

import torch

from crossspec.ops.ab_gamut import SIGMA, nearest_bin

LAMBDA = 0.5


def bin_counts(ab: torch.Tensor, centres: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """How many pixels of ``ab`` ``(B, 2, H, W)`` fall nearest each bin: ``(Q,)`` float64.

    ``mask`` ``(B, 1, H, W)`` (1 = valid) leaves the other pixels out.
    """
    idx = nearest_bin(ab, centres)
    if mask is not None:
        if mask.shape != (ab.shape[0], 1, *ab.shape[2:]):
            raise ValueError(f"mask must have shape {(ab.shape[0], 1, *ab.shape[2:])}, got {tuple(mask.shape)}")
        idx = idx[mask[:, 0] > 0]
    return torch.bincount(idx.flatten(), minlength=centres.shape[0]).to(torch.float64)


def smooth_prior(prior: torch.Tensor, centres: torch.Tensor, sigma: float = SIGMA) -> torch.Tensor:
    """Gaussian-smoothed prior: ``p~_q ∝ sum_r p_r exp(-|c_q - c_r|**2 / (2 sigma**2))``, summing to 1.

    ``prior`` ``(Q,)`` non-negative (counts or probabilities; not all zero). Returns float64 ``(Q,)``.
    """
    prior = _check_vector(prior, centres, "prior")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if not bool((prior >= 0).all()) or float(prior.sum()) <= 0:
        raise ValueError("prior must be non-negative with a positive sum")
    c = centres.to(torch.float64)
    kernel = torch.exp(-torch.cdist(c, c).pow(2) / (2.0 * sigma * sigma))
    smoothed = kernel @ (prior / prior.sum())
    return smoothed / smoothed.sum()


def rebalance_weights(prior_smoothed: torch.Tensor, lam: float = LAMBDA) -> torch.Tensor:
    """Per-bin loss weights ``w ∝ ((1 - lam) p~ + lam / Q)^-1`` with ``sum_q p~_q w_q = 1``. float64 ``(Q,)``.

    ``lam = 1`` gives uniform weights (all 1); ``lam -> 0`` the inverse prior.
    """
    p = prior_smoothed.to(torch.float64)
    if p.dim() != 1 or p.numel() < 1:
        raise ValueError(f"prior_smoothed must be a (Q,) vector, got {tuple(p.shape)}")
    if not 0.0 < lam <= 1.0:
        raise ValueError(f"lam must be in (0, 1], got {lam}")
    if not bool((p >= 0).all()) or abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError("prior_smoothed must be a probability vector (non-negative, summing to 1)")
    w = 1.0 / ((1.0 - lam) * p + lam / p.numel())
    return w / (p * w).sum()


def _check_vector(v: torch.Tensor, centres: torch.Tensor, name: str) -> torch.Tensor:
    if v.dim() != 1 or v.shape[0] != centres.shape[0]:
        raise ValueError(f"{name} must have shape ({centres.shape[0]},) (one entry per bin), got {tuple(v.shape)}")
    return v.to(torch.float64)
