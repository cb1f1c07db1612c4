import math

import pytest
import torch

from crossspec.color import rgb_to_lab
from crossspec.ops.ab_gamut import (annealed_mean, cell_of, distribution_mean, distribution_mode, gamut_centres,
                                    nearest_bin, soft_encode)


@pytest.fixture(scope="module")
def centres():
    return gamut_centres()


def index_of(centres, a, b):
    hits = ((centres[:, 0] == a) & (centres[:, 1] == b)).nonzero()
    assert hits.numel() == 1, (a, b)
    return int(hits)


def test_gamut_is_the_262_cells_srgb_reaches(centres):
    assert centres.shape == (262, 2) and centres.dtype == torch.float32
    assert torch.equal(centres, torch.round(centres / 10) * 10)  # centres on the grid-10 lattice
    keys = centres[:, 0] * 1000 + centres[:, 1]
    assert torch.equal(keys, keys.sort().values)  # ordered by a then b
    assert (centres[:, 0].min(), centres[:, 0].max(), centres[:, 1].min(), centres[:, 1].max()) == (-90, 100, -110, 90)
    # a denser sampling of the RGB cube's faces finds no other cell
    assert torch.equal(gamut_centres(levels=513), centres)
    # pure red is Lab (53.2, 80.1, 67.2): its cell (80, 70) is a bin; (100, -110) is no sRGB colour
    index_of(centres, 80.0, 70.0)
    assert not ((centres[:, 0] == 100) & (centres[:, 1] == -110)).any()


def test_every_srgb_colour_falls_in_a_bin(centres):
    rgb = torch.rand(3, 4000, 1, generator=torch.Generator().manual_seed(1))
    cells = cell_of(rgb_to_lab(rgb)[1:].reshape(2, -1).T)
    have = {tuple(c) for c in cell_of(centres).tolist()}
    assert {tuple(c) for c in cells.tolist()} <= have


def test_cells_are_half_open_around_the_centres():
    ab = torch.tensor([[4.99, -5.0], [5.0, -5.01], [-15.0, 14.9]])
    assert cell_of(ab).tolist() == [[0, 0], [1, -1], [-1, 1]]


def test_soft_encoding_at_a_bin_centre(centres):
    ab = torch.zeros(1, 2, 1, 1)  # exactly on the (0, 0) centre
    z = soft_encode(ab, centres)[0, :, 0, 0]
    assert z.shape == (262,)
    # the centre (d = 0) and its 4 lattice neighbours (d = 10): weights 1 and exp(-100 / 50) = e^-2
    e2 = math.exp(-2.0)
    assert z[index_of(centres, 0, 0)].item() == pytest.approx(1 / (1 + 4 * e2), abs=1e-6)
    for a, b in ((10, 0), (-10, 0), (0, 10), (0, -10)):
        assert z[index_of(centres, a, b)].item() == pytest.approx(e2 / (1 + 4 * e2), abs=1e-6)
    assert int((z > 0).sum()) == 5 and z.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_soft_encoding_between_centres(centres):
    ab = torch.tensor([3.0, 2.0]).view(1, 2, 1, 1)
    z = soft_encode(ab, centres)[0, :, 0, 0]
    # squared distances to the 5 nearest centres, by hand (the 6th, (-10, 0), is at 173)
    d2 = {(0, 0): 13.0, (10, 0): 53.0, (0, 10): 73.0, (10, 10): 113.0, (0, -10): 153.0}
    k = {c: math.exp(-v / (2 * 5.0**2)) for c, v in d2.items()}
    total = sum(k.values())
    for (a, b), v in k.items():
        assert z[index_of(centres, a, b)].item() == pytest.approx(v / total, abs=1e-6)
    assert int((z > 0).sum()) == 5


def test_soft_encoding_shapes_and_neighbours(centres):
    ab = torch.randn(2, 2, 3, 4) * 40
    z = soft_encode(ab, centres, neighbours=1)
    assert z.shape == (2, 262, 3, 4)
    assert torch.equal(z.argmax(1), nearest_bin(ab, centres)) and torch.all(z.max(1).values == 1)
    with pytest.raises(ValueError, match="neighbours"):
        soft_encode(ab, centres, neighbours=0)
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        soft_encode(torch.zeros(1, 3, 2, 2), centres)


def test_nearest_bin_matches_brute_force_inside_and_outside_the_gamut(centres):
    ab = torch.rand(2, 2, 20, 20, generator=torch.Generator().manual_seed(2)) * 300 - 150
    ab[0, :, 0, 0] = torch.tensor([80.0, 70.0])
    got = nearest_bin(ab, centres)
    d2 = (ab.permute(0, 2, 3, 1)[..., None, :] - centres).pow(2).sum(-1)
    assert torch.allclose(d2.gather(-1, got[..., None]), d2.min(-1, keepdim=True).values)
    assert got[0, 0, 0] == index_of(centres, 80, 70)


def _two_bin_logits(centres, i, j, li, lj):
    logits = torch.full((1, centres.shape[0], 1, 1), -1e4)
    logits[0, i], logits[0, j] = li, lj
    return logits


def test_annealed_mean_is_the_mean_at_t1_and_sharpens_below(centres):
    i, j = index_of(centres, 0, 0), index_of(centres, 40, -20)
    logits = _two_bin_logits(centres, i, j, 1.0, 0.0)
    p = 1 / (1 + math.exp(-1.0))  # softmax of (1, 0)
    want = [(1 - p) * 40, (1 - p) * -20]
    assert annealed_mean(logits, centres, 1.0)[0, :, 0, 0].tolist() == pytest.approx(want, abs=1e-4)
    assert torch.allclose(distribution_mean(logits, centres), annealed_mean(logits, centres, 1.0))
    # T = 0.38: softmax of (1, 0) / 0.38
    pt = 1 / (1 + math.exp(-1.0 / 0.38))
    assert annealed_mean(logits, centres)[0, :, 0, 0].tolist() == pytest.approx([(1 - pt) * 40, (1 - pt) * -20], abs=1e-4)
    # T -> 0: the mode
    assert annealed_mean(logits, centres, 1e-3)[0, :, 0, 0].tolist() == pytest.approx([0.0, 0.0], abs=1e-4)
    assert distribution_mode(logits, centres)[0, :, 0, 0].tolist() == [0.0, 0.0]


def test_annealed_mean_on_random_logits(centres):
    logits = torch.randn(2, 262, 3, 5) * 3
    mode = distribution_mode(logits, centres)
    assert mode.shape == (2, 2, 3, 5)
    assert torch.allclose(annealed_mean(logits, centres, 1e-4), mode, atol=1e-3)
    # a lower temperature moves the estimate toward the mode
    far = lambda t: (annealed_mean(logits, centres, t) - mode).norm()  # noqa: E731
    assert far(0.1) < far(0.38) < far(1.0)
    logits.requires_grad_(True)
    annealed_mean(logits, centres).sum().backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match="temperature"):
        annealed_mean(logits, centres, 0.0)
    with pytest.raises(ValueError, match="bins"):
        annealed_mean(logits[:, :10], centres)


def test_encoding_and_decoding_ignore_bf16_autocast(centres):
    ab = torch.randn(1, 2, 8, 8) * 40
    logits = torch.randn(1, 262, 4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z, mean = soft_encode(ab, centres), annealed_mean(logits, centres)
    assert torch.equal(z, soft_encode(ab, centres))
    assert mean.dtype == torch.float32 and torch.allclose(mean, annealed_mean(logits, centres))
