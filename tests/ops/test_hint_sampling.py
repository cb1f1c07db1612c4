"""The paper's simulated hints: their statistics, their values and their determinism."""
import math

import numpy as np
import pytest
import torch

from crossspec.ops.hint_map import AB_SCALE
from crossspec.ops.hint_sampling import GEOMETRIC_P, geometric_count, sample_hints


def test_geometric_count_has_the_papers_law():
    g = torch.Generator().manual_seed(0)
    n = np.array([geometric_count(generator=g) for _ in range(20000)])
    # P(N = 0) = p = 1/8 (no hint: automatic colorization); mean (1 - p) / p = 7
    assert abs((n == 0).mean() - GEOMETRIC_P) < 0.01
    assert abs(n.mean() - 7.0) < 0.25
    assert abs((n == 3).mean() - (1 - GEOMETRIC_P) ** 3 * GEOMETRIC_P) < 0.01


def test_a_hint_is_the_mean_true_ab_over_its_patch():
    ab = torch.randn(2, 20, 24) * 30
    g = torch.Generator().manual_seed(3)
    hint, mask = sample_hints(ab, count=1, sides=(5,), generator=g)
    ys, xs = torch.nonzero(mask[0], as_tuple=True)
    assert len(ys) == 25 and ys.max() - ys.min() == 4 and xs.max() - xs.min() == 4
    y0, x0 = int(ys.min()), int(xs.min())
    expected = ab[:, y0:y0 + 5, x0:x0 + 5].mean(dim=(1, 2)) / AB_SCALE
    torch.testing.assert_close(hint[:, y0, x0], expected)
    assert torch.all(hint[:, mask[0] == 0] == 0)  # nothing outside the hints


def test_patch_sides_and_positions_follow_the_laws():
    ab = torch.zeros(2, 64, 64)
    g = torch.Generator().manual_seed(1)
    areas, centres = [], []
    for _ in range(400):
        _, mask = sample_hints(ab, count=1, generator=g)
        ys, xs = torch.nonzero(mask[0], as_tuple=True)
        areas.append(len(ys))
        centres.append(((ys.float().mean() - 31.5).item(), (xs.float().mean() - 31.5).item()))
    assert set(math.isqrt(a) for a in areas) == set(range(1, 10))  # square sides 1..9, all drawn
    c = np.array(centres)
    assert np.all(np.abs(c.mean(0)) < 2.0)  # centred
    assert np.all(np.abs(c.std(0) - 64 / 4) < 2.0)  # std a quarter of the side


def test_invalid_pixels_give_no_hint_value():
    ab = torch.full((2, 8, 8), 50.0)
    ab[:, :, 4:] = -50.0
    valid = torch.zeros(1, 8, 8)
    valid[..., :4] = 1  # only the left half is real
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        hint, mask = sample_hints(ab, count=3, sides=(8,), valid=valid, generator=g)
        assert torch.allclose(hint[:, mask[0] > 0], torch.tensor(50.0 / AB_SCALE))


def test_same_seed_same_hints_and_fewer_hints_are_a_prefix():
    ab = torch.randn(2, 32, 32) * 20
    a = sample_hints(ab, generator=torch.Generator().manual_seed(7))
    b = sample_hints(ab, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    many = sample_hints(ab, count=10, sides=(1,), generator=torch.Generator().manual_seed(5))[1]
    few = sample_hints(ab, count=3, sides=(1,), generator=torch.Generator().manual_seed(5))[1]
    assert few.sum() == 3 and torch.all(many[few > 0] == 1)


def test_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="ab must be"):
        sample_hints(torch.zeros(3, 4, 4))
