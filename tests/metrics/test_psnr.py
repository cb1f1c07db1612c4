import math

import numpy as np
import pytest
import torch

from crossspec.errors import CrossspecError
from crossspec.metrics import MetricInputError, psnr
from ._images import image_pair, to_tensor


def _numpy_psnr(gt: np.ndarray, pred: np.ndarray, data_range: float = 1.0) -> float:
    mse = float(np.mean((gt - pred) ** 2))
    return 10 * math.log10(data_range**2 / mse)


def test_matches_numpy_per_image_and_batched_equals_single():
    rng = np.random.default_rng(1)
    pairs = [image_pair(rng, 16, 12, noise=n) for n in (0.02, 0.1, 0.3)]
    gt = to_tensor(*(g for g, _ in pairs))
    pred = to_tensor(*(p for _, p in pairs))
    batched = psnr(pred, gt)
    assert batched.shape == (3,) and batched.dtype == torch.float64
    for i, (g, p) in enumerate(pairs):
        assert batched[i].item() == pytest.approx(_numpy_psnr(g, p), abs=1e-9)
        assert psnr(pred[i : i + 1], gt[i : i + 1]).item() == pytest.approx(batched[i].item(), abs=1e-12)
    assert batched[0] > batched[1] > batched[2]


def test_known_values():
    gt = torch.full((2, 3, 4, 4), 0.5, dtype=torch.float64)
    assert torch.isinf(psnr(gt, gt)).all()
    # A uniform error of 0.1 gives MSE 0.01, so exactly 20 dB.
    assert psnr(gt + 0.1, gt).tolist() == pytest.approx([20.0, 20.0], abs=1e-9)


def test_data_range_and_input_dtype():
    rng = np.random.default_rng(2)
    g, p = image_pair(rng, 8, 8)
    gt, pred = to_tensor(g), to_tensor(p)
    assert psnr(pred * 255, gt * 255, data_range=255).item() == pytest.approx(psnr(pred, gt).item(), abs=1e-9)
    fast = psnr(pred.float(), gt.float(), dtype=None)
    assert fast.dtype == torch.float32
    assert fast.item() == pytest.approx(psnr(pred, gt).item(), abs=1e-4)


def test_gradcheck():
    pred = torch.rand(2, 3, 4, 4, dtype=torch.float64) * 0.8 + 0.1
    gt = torch.rand(2, 3, 4, 4, dtype=torch.float64) * 0.8 + 0.1
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: psnr(p, gt), (pred,), fast_mode=True)


@pytest.mark.parametrize(
    "pred, target, message",
    [
        (torch.rand(3, 4, 4), torch.rand(3, 4, 4), "pred has shape (3, 4, 4)"),
        (torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5), "they must match"),
        (torch.zeros(1, 3, 4, 4, dtype=torch.uint8), torch.zeros(1, 3, 4, 4), "dtype torch.uint8"),
        (torch.rand(1, 3, 4, 4) + 1.5, torch.rand(1, 3, 4, 4), "expected [0, 1]"),
        (torch.full((1, 3, 4, 4), float("nan")), torch.rand(1, 3, 4, 4), "NaN"),
        (np.zeros((1, 3, 4, 4)), torch.rand(1, 3, 4, 4), "must be a torch.Tensor"),
    ],
)
def test_bad_input(pred, target, message):
    with pytest.raises(MetricInputError) as info:
        psnr(pred, target)
    assert message in str(info.value) and str(info.value).startswith("psnr:")
    assert isinstance(info.value, CrossspecError) and isinstance(info.value, ValueError)


def test_bad_data_range():
    with pytest.raises(ValueError, match="data_range"):
        psnr(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), data_range=0)
