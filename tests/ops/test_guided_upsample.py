import pytest
import torch

from crossspec.ops import guided_upsample
from crossspec.ops.guided_upsample import downscale


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_prediction_linear_in_the_guide_comes_back_exact_at_full_resolution(dtype):
    guide = torch.rand(2, 1, 40, 56, dtype=dtype)
    guide_low = downscale(guide, 0.5)
    gain, shift = torch.tensor([0.5, -0.3, 1.2], dtype=dtype).view(1, 3, 1, 1), torch.tensor([0.1, 0.6, -0.2], dtype=dtype).view(1, 3, 1, 1)
    out = guided_upsample(gain * guide_low + shift, guide_low, guide, radius=2, eps=1e-8)
    assert out.shape == (2, 3, 40, 56) and out.dtype == dtype
    torch.testing.assert_close(out, gain * guide + shift, atol=2e-3, rtol=0)


def test_detail_below_sqrt_eps_is_not_transferred_and_strong_edges_are():
    # flat region with 1/255 steps (8-bit banding, JPEG blocks) and a strong edge
    guide = torch.full((1, 1, 64, 64), 0.2)
    guide[..., ::8, :] += 1 / 255
    guide[..., 32:, :] = 0.8
    guide_low = downscale(guide, 0.5)
    low = 0.9 - guide_low  # output darkens where the guide brightens
    out = guided_upsample(low.expand(-1, 3, -1, -1), guide_low, guide, radius=2, eps=1e-3)
    flat = out[0, 0, 4:24, 8:56]
    assert flat.std() < 0.25 / 255  # banding not amplified
    # the edge is sharp at full resolution: within two pixels it spans most of the jump
    col = out[0, 0, :, 32]
    assert col[29] > 0.65 and col[34] < 0.15


def test_bad_shapes_are_refused():
    g = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match="one channel"):
        guided_upsample(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), g)
    with pytest.raises(ValueError, match="must match low"):
        guided_upsample(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 7, 8), g)
    with pytest.raises(ValueError, match="smaller than low"):
        guided_upsample(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8), torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="radius"):
        guided_upsample(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8), g, radius=0)
    with pytest.raises(ValueError, match="scale"):
        downscale(g, 1.5)


def test_gradcheck():
    low = torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    guide = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    guide_low = downscale(guide, 0.5)
    assert torch.autograd.gradcheck(lambda p: guided_upsample(p, guide_low, guide, radius=1, eps=1e-2), (low,))
