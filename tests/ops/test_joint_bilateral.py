import math

import numpy as np
import pytest
import torch

from crossspec.ops import joint_bilateral_filter
from crossspec.ops.joint_bilateral import default_radius


def reference(src: np.ndarray, guide: np.ndarray, ss: float, sr: float, r: int) -> np.ndarray:
    """The definition, pixel by pixel: (C, H, W) source, (Cg, H, W) guide, neighbours inside the image."""
    c, h, w = src.shape
    out = np.zeros_like(src)
    for i in range(h):
        for j in range(w):
            num, den = np.zeros(c), 0.0
            for k in range(max(0, i - r), min(h, i + r + 1)):
                for m in range(max(0, j - r), min(w, j + r + 1)):
                    d2 = float(((guide[:, k, m] - guide[:, i, j]) ** 2).sum())
                    wgt = math.exp(-((k - i) ** 2 + (m - j) ** 2) / (2 * ss * ss) - d2 / (2 * sr * sr))
                    num += wgt * src[:, k, m]
                    den += wgt
            out[:, i, j] = num / den
    return out


@pytest.mark.parametrize("ss,sr,r,cg", [(1.5, 0.1, 2, 1), (2.0, 0.3, 3, 1), (1.0, 0.2, None, 2)])
def test_matches_the_direct_definition(ss, sr, r, cg):
    g = torch.Generator().manual_seed(0)
    src = torch.rand(2, 3, 7, 9, generator=g, dtype=torch.float64)
    guide = torch.rand(2, cg, 7, 9, generator=g, dtype=torch.float64)
    out = joint_bilateral_filter(src, guide, ss, sr, r)
    rr = default_radius(ss) if r is None else r
    for b in range(2):
        ref = reference(src[b].numpy(), guide[b].numpy(), ss, sr, rr)
        np.testing.assert_allclose(out[b].numpy(), ref, rtol=1e-12, atol=1e-12)


def test_edges_of_the_guide_stop_the_smoothing():
    # a step edge in the guide; the source is noise around 0 left and 1 right
    guide = torch.zeros(1, 1, 16, 16)
    guide[..., 8:] = 1.0
    noise = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.1
    src = guide + noise
    out = joint_bilateral_filter(src, guide, sigma_space=3.0, sigma_range=0.05)
    # nothing crosses the edge: each side keeps its level, and the noise shrinks
    assert out[..., :8].mean().abs() < 0.05 and (out[..., 8:].mean() - 1).abs() < 0.05
    assert (out - guide).std() < 0.5 * noise.std()
    # a huge range sigma makes it a plain Gaussian blur, which mixes the two sides
    blurred = joint_bilateral_filter(src, guide, sigma_space=3.0, sigma_range=1e6)
    assert blurred[..., 7].mean() > 0.2 and blurred[..., 8].mean() < 0.8


def test_constant_source_is_kept_and_radius_zero_is_identity():
    guide = torch.rand(1, 1, 5, 6)
    const = torch.full((1, 2, 5, 6), 0.3)
    torch.testing.assert_close(joint_bilateral_filter(const, guide, 2.0, 0.1), const)
    src = torch.rand(1, 2, 5, 6)
    assert joint_bilateral_filter(src, guide, 2.0, 0.1, radius=0) is src


def test_gradients_reach_source_and_guide():
    src = torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    guide = torch.rand(1, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s, g: joint_bilateral_filter(s, g, 1.0, 0.3, 1), (src, guide))


def test_bad_arguments_are_refused():
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(ValueError, match="differ"):
        joint_bilateral_filter(x, torch.rand(1, 1, 4, 5), 1.0, 0.1)
    with pytest.raises(ValueError, match="must be > 0"):
        joint_bilateral_filter(x, x, 0.0, 0.1)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        joint_bilateral_filter(x[0], x, 1.0, 0.1)
