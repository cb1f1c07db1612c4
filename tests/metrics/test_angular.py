import math

import numpy as np
import pytest
import torch

from crossspec.metrics import angular_error

from ._images import image_pair, to_tensor


def _loop_angular_error(gt: np.ndarray, pred: np.ndarray) -> float:
    """The VCIP formula pixel by pixel, with plain Python maths."""
    angles = []
    for p, g in zip(pred.reshape(-1, 3), gt.reshape(-1, 3)):
        dot = float(p @ g)
        norms = math.sqrt(float(p @ p)) * math.sqrt(float(g @ g))
        cos = min(1.0, max(-1.0, dot / (norms + 1e-6)))
        angles.append(math.degrees(math.acos(cos)))
    return sum(angles) / len(angles)


def test_matches_loop_and_batched_equals_single():
    rng = np.random.default_rng(11)
    pairs = [image_pair(rng, 9, 7, noise=n) for n in (0.05, 0.3)]
    gt = to_tensor(*(g for g, _ in pairs))
    pred = to_tensor(*(p for _, p in pairs))
    values = angular_error(pred, gt)
    assert values.shape == (2,) and values.dtype == torch.float64
    for i, (g, p) in enumerate(pairs):
        assert values[i].item() == pytest.approx(_loop_angular_error(g, p), abs=1e-9)
        assert angular_error(pred[i : i + 1], gt[i : i + 1]).item() == pytest.approx(values[i].item(), abs=1e-12)
    assert values[0] < values[1]


def test_known_angles():
    red = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    red[:, 0] = 1
    green = torch.zeros_like(red)
    green[:, 1] = 1
    assert angular_error(red, green).item() == pytest.approx(90.0, abs=1e-9)
    # Scaling a colour does not change its direction: the angle is (nearly) 0, up to the 1e-6 guard.
    assert angular_error(red * 0.5, red).item() == pytest.approx(0.0, abs=0.2)
    gray = torch.full_like(red, 0.5)
    expected = math.degrees(math.acos(0.5 / (math.sqrt(0.75) + 1e-6)))  # red vs gray: cos = 1/sqrt(3)
    assert angular_error(red, gray).item() == pytest.approx(expected, abs=1e-9)


def test_identical_images_are_near_zero():
    img = torch.rand(2, 3, 8, 8, dtype=torch.float64) * 0.5 + 0.5
    # Not exactly 0: the formula's +1e-6 in the denominator leaves cos slightly below 1.
    values = angular_error(img, img)
    assert (values >= 0).all() and (values < 0.1).all()


def test_bad_input():
    with pytest.raises(ValueError, match="angular_error: pred has 1 channels"):
        angular_error(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="must match"):
        angular_error(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 3))
