"""The conversions the classic colorizers add to crossspec.color (Lab unit scale, gray lightness, YUV)."""
import pytest
import torch

from crossspec.color import (gray_lightness, lab_to_unit, rgb_to_lab, rgb_to_luminance, rgb_to_yuv, unit_to_lab,
                             yuv_to_rgb)


def test_lab_unit_scale_known_values_and_round_trip():
    lab = torch.tensor([100.0, -128.0, 128.0]).view(3, 1, 1)
    torch.testing.assert_close(lab_to_unit(lab), torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1))
    torch.testing.assert_close(lab_to_unit(torch.tensor([50.0, 0.0, 0.0]).view(3, 1, 1)),
                               torch.tensor([0.5, 0.5, 0.5]).view(3, 1, 1))
    rgb = torch.rand(2, 3, 4, 5)
    unit = lab_to_unit(rgb_to_lab(rgb))
    assert unit.min() >= 0 and unit.max() <= 1  # every sRGB colour fits a sigmoid's range
    torch.testing.assert_close(unit_to_lab(unit), rgb_to_lab(rgb), atol=1e-4, rtol=0)


def test_gray_lightness_is_cie_lightness_of_the_neutral_colour():
    v = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 3)
    # L* = 116 f(Y) - 16 with Y the linearised sRGB value: 0, 53.39 (for 0.5) and 100
    lin = ((0.5 + 0.055) / 1.055) ** 2.4
    want = torch.tensor([0.0, 116 * lin ** (1 / 3) - 16, 100.0]).view(1, 1, 3)
    torch.testing.assert_close(gray_lightness(v), want, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 1, H, W\)"):
        gray_lightness(torch.rand(3, 2, 2))


def test_yuv_luma_is_bt601_and_round_trips():
    rgb = torch.rand(2, 3, 4, 4)
    yuv = rgb_to_yuv(rgb)
    torch.testing.assert_close(yuv[:, :1], rgb_to_luminance(rgb))
    assert yuv[:, 1].abs().max() <= 0.437 and yuv[:, 2].abs().max() <= 0.616
    torch.testing.assert_close(yuv_to_rgb(yuv), rgb, atol=1e-5, rtol=0)
    gray = torch.full((1, 3, 2, 2), 0.4)
    torch.testing.assert_close(rgb_to_yuv(gray)[:, 1:], torch.zeros(1, 2, 2, 2), atol=1e-6, rtol=0)
