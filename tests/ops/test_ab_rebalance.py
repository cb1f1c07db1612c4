import math

import pytest
import torch

from crossspec.ops.ab_gamut import gamut_centres
from crossspec.ops.ab_rebalance import bin_counts, rebalance_weights, smooth_prior


@pytest.fixture(scope="module")
def centres():
    return gamut_centres()


def at(centres, a, b):
    return int(((centres[:, 0] == a) & (centres[:, 1] == b)).nonzero())


def test_smoothing_a_single_bin_spreads_a_sigma5_gaussian(centres):
    p = torch.zeros(len(centres), dtype=torch.float64)
    p[at(centres, 0, 0)] = 3.0  # counts need not be normalised
    s = smooth_prior(p, centres, sigma=5.0)
    assert s.sum().item() == pytest.approx(1.0)
    # kernel exp(-d^2 / 50): lattice neighbour (d = 10) e^-2, diagonal (d^2 = 200) e^-4, two cells e^-8
    c = s[at(centres, 0, 0)].item()
    assert s[at(centres, 10, 0)].item() / c == pytest.approx(math.exp(-2))
    assert s[at(centres, -10, 10)].item() / c == pytest.approx(math.exp(-4))
    assert s[at(centres, 0, 20)].item() / c == pytest.approx(math.exp(-8))
    # normalised over the in-gamut bins only
    d2 = (centres.double() - centres[at(centres, 0, 0)].double()).pow(2).sum(1)
    assert c == pytest.approx(1.0 / torch.exp(-d2 / 50).sum().item())


def test_smoothing_checks_its_input(centres):
    with pytest.raises(ValueError, match="one entry per bin"):
        smooth_prior(torch.ones(5), centres)
    with pytest.raises(ValueError, match="non-negative"):
        smooth_prior(torch.zeros(len(centres)), centres)


def test_rebalance_weights_by_hand():
    p = torch.tensor([0.75, 0.25], dtype=torch.float64)
    w = rebalance_weights(p, lam=0.5)
    # raw 1 / (0.5 p + 0.5 / 2) = 1.6, 2.6667; their p-mean is 1.8667
    raw = torch.tensor([1 / 0.625, 1 / 0.375], dtype=torch.float64)
    assert torch.allclose(w, raw / (0.75 * raw[0] + 0.25 * raw[1]))
    assert (p * w).sum().item() == pytest.approx(1.0)
    assert torch.allclose(rebalance_weights(p, lam=1.0), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="lam"):
        rebalance_weights(p, lam=0.0)
    with pytest.raises(ValueError, match="probability"):
        rebalance_weights(torch.tensor([0.5, 0.6]))


def test_rebalanced_weights_have_unit_expectation_and_favour_rare_bins(centres):
    counts = torch.rand(len(centres), generator=torch.Generator().manual_seed(0)).double() ** 4
    counts[at(centres, 0, 0)] = 100.0  # greys dominate, as in natural images
    s = smooth_prior(counts, centres)
    w = rebalance_weights(s)
    assert (s * w).sum().item() == pytest.approx(1.0)
    assert w.argmin() == s.argmax() and w.argmax() == s.argmin()
    # w_max / w_min = ((1 - lam) p_max + lam / Q) / ((1 - lam) p_min + lam / Q)
    q = len(centres)
    assert (w.max() / w.min()).item() == pytest.approx(((0.5 * s.max() + 0.5 / q) / (0.5 * s.min() + 0.5 / q)).item())


def test_bin_counts_with_mask(centres):
    ab = torch.zeros(1, 2, 2, 3)
    ab[0, :, 0, 0] = torch.tensor([78.0, 71.0])  # nearest (80, 70)
    mask = torch.ones(1, 1, 2, 3)
    mask[0, 0, 1, 2] = 0
    counts = bin_counts(ab, centres, mask)
    assert counts.sum().item() == 5 and counts[at(centres, 80, 70)].item() == 1
    assert counts[at(centres, 0, 0)].item() == 4
    assert bin_counts(ab, centres).sum().item() == 6
