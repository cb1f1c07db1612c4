import numpy as np
import pytest
from skimage.feature import match_template

from crossspec.audit.ncc import MovingBatch, masked_ncc


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    fixed = rng.random((40, 50))
    inside = fixed[5:25, 7:22] + 0.01 * rng.random((20, 15))
    return fixed, np.stack([inside, rng.random((20, 15))])


def test_full_overlap_equals_match_template(images):
    fixed, moving = images
    ncc, count = masked_ncc(fixed, MovingBatch(moving), 0.3)
    assert ncc.shape == (2, 40 + 20 - 1, 50 + 15 - 1) and count.shape == ncc.shape[1:]
    ref = match_template(fixed, moving[0])  # offsets with the moving image wholly inside
    np.testing.assert_allclose(ncc[0, 19:19 + ref.shape[0], 14:14 + ref.shape[1]], ref, atol=1e-5)
    i, j = np.unravel_index(ncc[0].argmax(), ncc[0].shape)
    assert (i - 19, j - 14) == (5, 7) and ncc[0, i, j] > 0.999
    assert ncc[1].max() < 0.5  # unrelated noise


def test_partial_overlap_is_pearson_of_shared_pixels(images):
    fixed, moving = images
    ncc, count = masked_ncc(fixed, MovingBatch(moving), 0.3)
    i, j = 10, 8  # moving image's top-left at fixed[-9, -6]: only its lower-right part is shared
    dy, dx = i - 19, j - 14
    a = fixed[:dy + 20, :dx + 15]
    b = moving[0][-dy:, -dx:]
    assert count[i, j] == a.size == 11 * 9
    assert ncc[0, i, j] == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1], abs=1e-5)


def test_small_overlaps_and_flat_windows_score_zero(images):
    fixed, moving = images
    ncc, count = masked_ncc(fixed, MovingBatch(moving), 0.5)
    assert (ncc[:, count < 0.5 * 20 * 15] == 0).all()
    flat = np.full((40, 50), 0.5)
    assert (masked_ncc(flat, MovingBatch(moving), 0.1)[0] == 0).all()
