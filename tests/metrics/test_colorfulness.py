import math

import numpy as np
import pytest
import torch

from crossspec.metrics import colorfulness, delta_colorfulness

from ._images import image_pair, to_tensor


def _numpy_colorfulness(img: np.ndarray) -> float:
    r, g, b = (img[..., k].astype(np.float64) * 255 for k in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return math.hypot(np.std(rg), np.std(yb)) + 0.3 * math.hypot(np.mean(rg), np.mean(yb))


def test_matches_numpy_and_batched_equals_single():
    rng = np.random.default_rng(21)
    pairs = [image_pair(rng, 10, 6, noise=n) for n in (0.05, 0.4)]
    imgs = [p for _, p in pairs]
    batch = to_tensor(*imgs)
    values = colorfulness(batch)
    assert values.shape == (2,) and values.dtype == torch.float64
    for i, img in enumerate(imgs):
        assert values[i].item() == pytest.approx(_numpy_colorfulness(img), abs=1e-9)
        assert colorfulness(batch[i : i + 1]).item() == pytest.approx(values[i].item(), abs=1e-12)


def test_known_values():
    gray = torch.rand(1, 1, 5, 5, dtype=torch.float64).expand(1, 3, 5, 5)
    assert colorfulness(gray).item() == pytest.approx(0.0, abs=1e-9)
    red = torch.zeros(1, 3, 4, 4, dtype=torch.float64)
    red[:, 0] = 1
    # Uniform pure red: rg = 255, yb = 127.5, no spread -> 0.3 * sqrt(255^2 + 127.5^2).
    assert colorfulness(red).item() == pytest.approx(0.3 * math.hypot(255, 127.5), abs=1e-9)


def test_delta_colorfulness():
    rng = np.random.default_rng(22)
    g, p = image_pair(rng, 12, 12, noise=0.3)
    pred, gt = to_tensor(p), to_tensor(g)
    expected = abs(_numpy_colorfulness(p) - _numpy_colorfulness(g))
    assert delta_colorfulness(pred, gt).item() == pytest.approx(expected, abs=1e-9)
    assert delta_colorfulness(gt, pred).item() == pytest.approx(expected, abs=1e-9)
    assert delta_colorfulness(gt, gt).item() == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="colorfulness: img has 1 channels"):
        colorfulness(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"colorfulness: img has values in \[0, 255\]"):
        colorfulness(torch.tensor([0.0, 255.0]).repeat(24).view(1, 3, 4, 4))


def test_masked_formula_is_the_formula_of_the_valid_pixels():
    from crossspec.metrics.colorfulness import hasler_susstrunk

    torch.manual_seed(4)
    img = torch.rand(2, 3, 6, 5, dtype=torch.float64)
    mask = torch.zeros(2, 1, 6, 5, dtype=torch.float64)
    mask[0, :, 1:4, 2:] = 1
    mask[1] = 1
    got = hasler_susstrunk(img, mask)
    sub = img[0][:, mask[0, 0] > 0]  # (3, n) valid pixels of image 0
    assert got[0].item() == pytest.approx(colorfulness(sub[None, :, :, None]).item(), abs=1e-9)
    assert got[1].item() == pytest.approx(colorfulness(img[1:]).item(), abs=1e-9)
    assert hasler_susstrunk(img, torch.zeros_like(mask)).tolist() == [0.0, 0.0]  # no valid pixel
