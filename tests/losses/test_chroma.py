import pytest
import torch

from crossspec.color import lab_to_unit, rgb_to_lab, rgb_to_yuv
from crossspec.errors import CrossspecError
from crossspec.losses import ColorizationLoss
from crossspec.losses.chroma import lab_mse_loss, yuv_mse_loss


def _target():
    return torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))


def test_lab_mse_on_the_predicted_channels():
    target = _target()
    unit = lab_to_unit(rgb_to_lab(target))
    # chroma only (gray models): exact ab -> 0, ab off by 0.1 everywhere -> 0.01
    assert lab_mse_loss({"ab": unit[:, 1:]}, target).item() == pytest.approx(0.0, abs=1e-10)
    assert lab_mse_loss({"ab": unit[:, 1:] + 0.1}, target).item() == pytest.approx(0.01, rel=1e-4)
    # with lightness (NIR models) the mean covers three channels: (0.01 + 0.01 + 0.04) / 3
    out = {"ab": unit[:, 1:] + 0.1, "L": unit[:, :1] - 0.2}
    assert lab_mse_loss(out, target).item() == pytest.approx(0.02, rel=1e-4)


def test_yuv_mse_on_the_predicted_channels_and_mask():
    target = _target()
    yuv = rgb_to_yuv(target)
    assert yuv_mse_loss({"uv": yuv[:, 1:]}, target).item() == pytest.approx(0.0, abs=1e-10)
    uv = yuv[:, 1:].clone()
    uv[..., :2] += 0.3  # wrong on the left half only
    assert yuv_mse_loss({"uv": uv}, target).item() == pytest.approx(0.09 / 2, rel=1e-4)
    mask = torch.ones(2, 1, 4, 4)
    mask[..., :2] = 0  # ... which the mask excludes
    assert yuv_mse_loss({"uv": uv}, target, mask=mask).item() == pytest.approx(0.0, abs=1e-10)
    out = {"uv": yuv[:, 1:], "y": yuv[:, :1] + 0.3}
    assert yuv_mse_loss(out, target).item() == pytest.approx(0.09 / 3, rel=1e-4)


def test_missing_chroma_output_is_a_clear_error():
    with pytest.raises(CrossspecError, match="lab_mse: the model gives no 'ab' output"):
        lab_mse_loss({"rgb": torch.rand(1, 3, 2, 2)}, torch.rand(1, 3, 2, 2))
    with pytest.raises(CrossspecError, match="yuv_mse: the model gives no 'uv' output"):
        ColorizationLoss({"yuv_mse": 1.0})({"rgb": torch.rand(1, 3, 2, 2)}, torch.rand(1, 3, 2, 2))


def test_terms_by_name_in_the_composite_loss_and_gradient():
    target = _target()
    ab = (lab_to_unit(rgb_to_lab(target))[:, 1:] + 0.1).requires_grad_(True)
    loss = ColorizationLoss.from_config({"weights": {"lab_mse": 2.0, "l1": 1.0}})
    rgb = target.clone()
    total, terms = loss({"rgb": rgb, "ab": ab}, target)
    assert set(terms) == {"lab_mse", "l1"} and terms["l1"].item() == 0.0
    assert total.item() == pytest.approx(2 * 0.01, rel=1e-4)
    total.backward()
    # d/dab of 2 * mean((ab - t)^2) = 4 (ab - t) / N
    torch.testing.assert_close(ab.grad, torch.full_like(ab, 4 * 0.1 / ab.numel()), rtol=1e-3, atol=0)
