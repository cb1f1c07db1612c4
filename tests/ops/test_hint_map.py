"""Hint maps drawn per window match the whole map cut at the same window."""
import numpy as np
import pytest

from crossspec.ops.hint_map import AB_SCALE, HintMap, HintPatch, centred_patch, rgb_to_ab


def test_window_is_the_full_map_cut_and_later_hints_win():
    hm = HintMap(10, 12, [HintPatch(-1, -1, 3, 20.0, -10.0), centred_patch(5, 6, 3, 40.0, 0.0),
                          HintPatch(5, 5, 2, -30.0, 30.0)])
    full = hm.full()
    assert full.shape == (10, 12, 3)
    np.testing.assert_allclose(full[0, 0], [20 / AB_SCALE, -10 / AB_SCALE, 1])
    np.testing.assert_allclose(full[4, 5], [40 / AB_SCALE, 0, 1])
    np.testing.assert_allclose(full[5, 5], [-30 / AB_SCALE, 30 / AB_SCALE, 1])  # drawn last
    assert full[..., 2].sum() == 4 + 9 - 0  # 2x2 patch lies inside the 3x3 one
    for r, c, h, w in [(0, 0, 10, 12), (3, 4, 5, 5), (-2, 8, 6, 7)]:
        win = hm.window(r, c, h, w)
        padded = np.zeros((14, 20, 3), np.float32)
        padded[2:12, 0:12] = full
        np.testing.assert_array_equal(win, padded[r + 2:r + 2 + h, c:c + w])


def test_rgb_to_ab_of_gray_is_zero_and_red_is_positive_a():
    ab = rgb_to_ab([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(ab[0], [0, 0], atol=0.01)  # kornia: white point rounding
    assert ab[1, 0] > 70  # sRGB red: a* about 80
    with pytest.raises(ValueError):
        HintPatch(0, 0, 0, 0.0, 0.0)
