import math

import pytest
import torch

from crossspec.losses import ColorizationLoss, colorfulness_loss
from crossspec.metrics import colorfulness


def test_hand_computed_value():
    # two pixels: pure red and black. 0-255 scale: rg = (255, 0), yb = (127.5, 0)
    img = torch.zeros(1, 3, 1, 2, dtype=torch.float64)
    img[0, 0, 0, 0] = 1.0
    # population std of (a, 0) is a / 2, mean a / 2
    m = math.hypot(255 / 2, 127.5 / 2) + 0.3 * math.hypot(255 / 2, 127.5 / 2)
    assert colorfulness_loss(img).item() == pytest.approx(1 - m / 100, abs=1e-12)


def test_is_one_minus_the_metric_over_100_averaged_over_images():
    torch.manual_seed(0)
    img = torch.rand(3, 3, 8, 9, dtype=torch.float64)
    expected = (1 - colorfulness(img) / 100).mean()
    assert colorfulness_loss(img).item() == pytest.approx(expected.item(), abs=1e-12)
    assert colorfulness_loss(img, scale=50.0).item() == pytest.approx((1 - colorfulness(img) / 50).mean().item())


def test_more_colourful_means_lower_loss_and_descent_adds_colour():
    torch.manual_seed(1)
    rgb = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    gray = rgb.mean(1, keepdim=True).expand_as(rgb)
    losses = [colorfulness_loss(gray + s * (rgb - gray)).item() for s in (0.0, 0.3, 0.6, 1.0)]
    assert losses[0] == pytest.approx(1.0, abs=1e-4) and losses == sorted(losses, reverse=True)
    x = (gray + 0.5 * (rgb - gray)).clone().requires_grad_(True)
    colorfulness_loss(x).backward()
    stepped = (x - 1e-3 * x.grad).detach()
    assert (colorfulness(stepped) > colorfulness(x.detach())).all()


def test_gray_image_has_a_finite_zero_gradient():
    x = torch.full((1, 3, 4, 4), 0.5, requires_grad=True)
    loss = colorfulness_loss(x)
    loss.backward()
    assert loss.item() == pytest.approx(1.0, abs=1e-4) and torch.isfinite(x.grad).all()


def test_mask_uses_valid_pixels_only():
    torch.manual_seed(2)
    img = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    mask = torch.ones(2, 1, 8, 8, dtype=torch.float64)
    mask[0, :, :3] = 0
    mask[1] = 0  # no valid pixel: left out of the mean
    base = colorfulness_loss(img, mask)
    sub = img[0][:, mask[0, 0] > 0][None, :, :, None]
    assert base.item() == pytest.approx(1 - colorfulness(sub).item() / 100, abs=1e-12)
    wild = img.clone()
    wild[mask.expand_as(img) == 0] = torch.rand(int((mask == 0).sum()) * 3, dtype=torch.float64)
    assert colorfulness_loss(wild, mask).item() == pytest.approx(base.item(), abs=1e-12)
    p = img.clone().requires_grad_(True)
    colorfulness_loss(p, mask).backward()
    assert (p.grad[mask.expand_as(p) == 0] == 0).all() and p.grad.abs().sum() > 0
    ones = torch.ones_like(mask)
    assert colorfulness_loss(img, ones).item() == pytest.approx(colorfulness_loss(img).item(), abs=1e-12)
    with pytest.raises(ValueError, match="mask"):
        colorfulness_loss(img, mask[:, :, :4])


def test_composite_term_ignores_the_target():
    torch.manual_seed(3)
    rgb = torch.rand(2, 3, 8, 8)
    loss = ColorizationLoss.from_config({"weights": {"l1": 1.0, "colorfulness": 0.5}})
    t1, terms = loss({"rgb": rgb}, torch.rand(2, 3, 8, 8))
    assert set(terms) == {"l1", "colorfulness"}
    assert terms["colorfulness"].item() == pytest.approx(colorfulness_loss(rgb).item())
    _, again = loss({"rgb": rgb}, torch.rand(2, 3, 8, 8))
    assert again["colorfulness"].item() == pytest.approx(terms["colorfulness"].item())
