import numpy as np
import pytest
import torch
from scipy.ndimage import uniform_filter
from skimage.metrics import structural_similarity

from crossspec import metrics as M
from crossspec.metrics._checks import MetricInputError
from crossspec.metrics.masked import masked_scores, masked_ssim


def _pair(h=40, w=50, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.random((h, w, 3))
    p = np.clip(t + rng.normal(0, 0.1, t.shape), 0, 1)
    return t, p, torch.from_numpy(t).permute(2, 0, 1), torch.from_numpy(p).permute(2, 0, 1)


def test_all_valid_equals_the_full_image_metrics():
    t, p, tt, pp = _pair()
    s = masked_scores(pp, tt, torch.ones(40, 50, dtype=torch.bool))
    assert s["ssim"] == pytest.approx(structural_similarity(t, p, data_range=1, channel_axis=-1), abs=1e-12)
    assert s["psnr"] == pytest.approx(M.psnr(pp[None], tt[None]).item(), abs=1e-9)
    assert s["ae"] == pytest.approx(M.angular_error(pp[None], tt[None]).item(), abs=1e-9)
    assert s["cf"] == pytest.approx(M.colorfulness(pp[None]).item(), abs=1e-9)
    assert s["dcf"] == pytest.approx(M.delta_colorfulness(pp[None], tt[None]).item(), abs=1e-9)
    assert s["valid_fraction"] == 1.0


def test_masked_ssim_is_the_skimage_map_over_wholly_valid_windows():
    t, p, tt, pp = _pair()
    valid = np.ones((40, 50), bool)
    valid[5:15, 10:30] = False
    _, smap = structural_similarity(t, p, data_range=1, channel_axis=-1, full=True)
    bad = uniform_filter((~valid).astype(float), 7)
    use = np.zeros_like(valid)
    use[3:-3, 3:-3] = bad[3:-3, 3:-3] < 1e-9  # skimage crops 3 px; windows touching nodata are out
    assert masked_ssim(pp, tt, torch.from_numpy(valid)) == pytest.approx(smap[use].mean(), abs=1e-12)


def test_invalid_pixels_change_nothing():
    t, p, tt, pp = _pair()
    valid = torch.ones(40, 50, dtype=torch.bool)
    valid[:, :12] = False
    base = masked_scores(pp, tt, valid)
    tt2, pp2 = tt.clone(), pp.clone()
    tt2[:, ~valid], pp2[:, ~valid] = 0.9, 0.0  # garbage where invalid
    assert masked_scores(pp2, tt2, valid) == pytest.approx(base)
    # and equals scoring the valid crop for the pixel metrics
    crop = masked_scores(pp[:, :, 12:], tt[:, :, 12:], torch.ones(40, 38, dtype=torch.bool))
    for k in ("psnr", "ae", "cf", "dcf"):
        assert base[k] == pytest.approx(crop[k], abs=1e-9)


def test_no_valid_pixel_is_an_error_and_no_valid_window_nan():
    _, _, tt, pp = _pair(10, 10)
    with pytest.raises(MetricInputError, match="no valid pixel"):
        masked_scores(pp, tt, torch.zeros(10, 10, dtype=torch.bool))
    sparse = torch.zeros(10, 10, dtype=torch.bool)
    sparse[::2, ::2] = True
    assert np.isnan(masked_scores(pp, tt, sparse)["ssim"])
    with pytest.raises(MetricInputError, match="not available on masked images"):
        masked_ssim(pp, tt, sparse, "ms-ssim")
