import math

import pytest
import torch

from crossspec.color import rgb_to_hsv
from crossspec.errors import ConfigError, CrossspecError, DataError
from crossspec.losses import (
    COLORMAMBA_RECIPE, ColorizationLoss, FeatureLoss, charbonnier_loss, hsv_loss, hue_distance, l1_loss,
    load_feature_network, lsgan_discriminator_loss, lsgan_generator_loss, msssim_loss, mse_loss, psnr_loss, ssim_loss,
)
from crossspec.metrics import psnr


def test_pixel_losses_known_values():
    a = torch.zeros(1, 3, 2, 2)
    b = torch.full((1, 3, 2, 2), 0.5)
    assert mse_loss(a, b).item() == pytest.approx(0.25)
    assert l1_loss(a, b).item() == pytest.approx(0.5)
    assert charbonnier_loss(a, b, eps=1e-3).item() == pytest.approx(math.sqrt(0.25 + 1e-6) - 1e-3)
    assert charbonnier_loss(b, b).item() == 0.0
    with pytest.raises(ValueError, match="shape"):
        mse_loss(a, torch.zeros(1, 3, 2, 3))


def test_psnr_loss_is_the_negative_per_image_mean_psnr():
    pred = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    target = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    # one near-perfect image (~40 dB): it weighs as much as the others
    target[2] = (pred[2] + 0.01).clamp(max=1.0)
    assert psnr_loss(pred, target).item() == pytest.approx(-psnr(pred, target).mean().item(), rel=1e-6)
    pred.requires_grad_(True)
    psnr_loss(pred, target).backward()
    # d/dpred of 10 log10(mse_i) is (10 / ln 10) * 2 (pred - target) / (N mse_i): the better an image,
    # the larger the gradient per unit of error
    n = pred[0].numel()
    for i in range(3):
        mse = (pred[i] - target[i]).pow(2).mean()
        want = (10 / math.log(10)) * 2 * (pred[i] - target[i]) / (n * (mse + 1e-10)) / 3
        assert torch.allclose(pred.grad[i], want.detach(), rtol=1e-9, atol=0)
    assert psnr_loss(target, target).item() == pytest.approx(-100.0)
    with pytest.raises(ValueError, match="shape"):
        psnr_loss(pred, target[:, :2])


def test_ssim_losses_zero_for_identical_and_positive_otherwise():
    x = torch.rand(2, 3, 32, 32)
    assert ssim_loss(x, x).abs().item() < 1e-6
    assert msssim_loss(x, x).abs().item() < 1e-6
    assert ssim_loss(x, torch.rand(2, 3, 32, 32)).item() > 0.5


def test_hue_distance_is_circular():
    h = torch.tensor([0.02, 0.0, 0.25])
    g = torch.tensor([0.98, 0.5, 0.25])
    assert torch.allclose(hue_distance(h, g), torch.tensor([0.08, 1.0, 0.0]), atol=1e-6)


def test_hsv_loss_weights_hue_by_saturation():
    t = torch.tensor([0.0, 1.0, 0.5]).view(1, 3, 1, 1)
    p = torch.tensor([0.5, 1.0, 0.5]).view(1, 3, 1, 1)  # opposite hue, fully saturated target
    assert hsv_loss(p, t).item() == pytest.approx(1.0)
    grey_t = torch.tensor([0.0, 0.0, 0.5]).view(1, 3, 1, 1)
    grey_p = torch.tensor([0.5, 0.0, 0.5]).view(1, 3, 1, 1)  # hue is meaningless for grey
    assert hsv_loss(grey_p, grey_t).item() == 0.0
    wrap = torch.tensor([0.99, 1.0, 0.5]).view(1, 3, 1, 1)
    assert hsv_loss(wrap, t).item() == pytest.approx(0.02, abs=1e-6)


def test_lsgan_values():
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    assert lsgan_generator_loss(ones).item() == 0.0
    assert lsgan_generator_loss(zeros).item() == 1.0
    assert lsgan_discriminator_loss(ones, zeros).item() == 0.0
    assert lsgan_discriminator_loss(zeros, ones).item() == 1.0


def test_feature_loss_random_network_zero_at_equality_and_differentiable():
    loss = FeatureLoss("none", msssim_weight=0.0)
    a = torch.rand(2, 3, 32, 32, requires_grad=True)
    assert loss(a, a.detach()).item() == pytest.approx(0.0, abs=1e-6)
    b = torch.rand(2, 3, 32, 32)
    val = loss(a, b)
    val.backward()
    assert val.item() > 0 and a.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in loss.network.parameters())
    loss.train()
    assert not loss.network.training


def test_feature_network_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="autoencoder.pth: feature-network weights not found"):
        load_feature_network(tmp_path / "autoencoder.pth")


def test_feature_network_mismatched_weights(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"state_dict": {"conv1.0.1.weight": torch.zeros(1)}}, bad)
    with pytest.raises(DataError, match="bad.pth: weights do not match"):
        load_feature_network(bad)


def test_feature_network_round_trip(tmp_path):
    net = load_feature_network("none")
    path = tmp_path / "ae.pth"
    torch.save({"state_dict": net.state_dict()}, path)
    again = load_feature_network(path)
    x = torch.rand(1, 6, 16, 16)
    assert torch.equal(net.encode(x), again.encode(x))


@pytest.mark.shared_data
def test_released_autoencoder_loads_strictly(shared_data):
    path = shared_data / "weights" / "colormamba-aux" / "autoencoder.pth"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    net = load_feature_network(path)
    x = torch.rand(1, 6, 32, 32)
    assert net(x).shape == (1, 6, 32, 32) and net.encode(x).shape == (1, 128, 4, 4)


def _outputs(b=2, hw=32):
    rgb = torch.rand(b, 3, hw, hw, requires_grad=True)
    hsv = torch.rand(b, 3, hw, hw, requires_grad=True)
    return {"rgb": rgb, "hsv": hsv}


def test_composite_sums_weighted_terms():
    out = _outputs()
    target = torch.rand(2, 3, 32, 32)
    loss = ColorizationLoss({"mse": 2.0, "l1": 0.5, "hsv_mse": 3.0, "ssim": 1.0})
    total, terms = loss(out, target)
    assert set(terms) == {"mse", "l1", "hsv_mse", "ssim"}
    expected = (2 * mse_loss(out["rgb"], target) + 0.5 * l1_loss(out["rgb"], target)
                + 3 * mse_loss(out["hsv"], rgb_to_hsv(target)) + ssim_loss(out["rgb"], target))
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    total.backward()
    assert out["rgb"].grad is not None and out["hsv"].grad is not None


def test_composite_zero_for_perfect_prediction():
    target = torch.rand(2, 3, 32, 32)
    out = {"rgb": target.clone(), "hsv": rgb_to_hsv(target)}
    total, _ = ColorizationLoss({"mse": 1, "hsv": 1, "feature": 1}, feature_msssim_weight=0.0)(out, target)
    assert total.item() == pytest.approx(0.0, abs=1e-5)


def test_released_recipe_builds_and_runs():
    assert COLORMAMBA_RECIPE == {"mse": 2000.0, "feature": 2000.0, "feature_hsv": 100.0, "hsv_mse": 100.0}
    loss = ColorizationLoss(COLORMAMBA_RECIPE, feature_msssim_weight=0.0)
    total, terms = loss(_outputs(), torch.rand(2, 3, 32, 32))
    assert set(terms) == set(COLORMAMBA_RECIPE) and torch.isfinite(total)


def test_unknown_term_suggests_closest():
    with pytest.raises(ConfigError, match=r"'msssm'.*did you mean 'msssim'"):
        ColorizationLoss.from_config({"weights": {"mse": 1.0, "msssm": 1.0}})
    with pytest.raises(ConfigError, match=r"'ssim_varient'.*did you mean 'ssim_variant'"):
        ColorizationLoss.from_config({"weights": {"mse": 1.0}, "ssim_varient": "gaussian"})
    with pytest.raises(ConfigError, match="weights"):
        ColorizationLoss.from_config({"mse": 1.0})


def test_from_config_passes_options():
    loss = ColorizationLoss.from_config({"weights": {"ssim": 1.0}, "ssim_variant": "skimage"})
    assert loss.ssim_variant == "skimage"


def test_hsv_terms_need_hsv_output():
    with pytest.raises(CrossspecError, match="no 'hsv' output"):
        ColorizationLoss({"hsv": 1.0})({"rgb": torch.rand(1, 3, 16, 16)}, torch.rand(1, 3, 16, 16))


# ---------------------------------------------------------------- masks (raster nodata)
def _masked_batch():
    torch.manual_seed(3)
    pred = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    target = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    mask = torch.ones(2, 1, 16, 16, dtype=torch.float64)
    mask[0, :, :8] = 0  # nodata rows of image 0
    mask[1] = 0  # image 1 entirely nodata
    return pred, target, mask


@pytest.mark.parametrize("term", ["mse", "l1", "charbonnier", "psnr", "ssim"])
def test_masked_loss_ignores_nodata_pixels(term):
    pred, target, mask = _masked_batch()
    loss = ColorizationLoss({term: 1.0})
    base, _ = loss({"rgb": pred}, target, mask=mask)
    wild = pred.clone()
    wild[mask.expand_as(pred) == 0] = torch.rand(int((mask == 0).sum()) * 3, dtype=torch.float64)
    other, _ = loss({"rgb": wild}, target, mask=mask)
    assert other.item() == pytest.approx(base.item(), rel=1e-12, abs=1e-12)
    p = pred.clone().requires_grad_(True)
    loss({"rgb": p}, target, mask=mask)[0].backward()
    assert (p.grad[mask.expand_as(p) == 0] == 0).all() and p.grad.abs().sum() > 0


def test_masked_pixel_terms_average_over_valid_pixels_only():
    pred, target, mask = _masked_batch()
    valid = mask.expand_as(pred) > 0
    assert mse_loss(pred, target, mask=mask).item() == pytest.approx((pred - target)[valid].pow(2).mean().item())
    assert l1_loss(pred, target, mask=mask).item() == pytest.approx((pred - target)[valid].abs().mean().item())
    # image 1 has no valid pixel: it does not count in the per-image PSNR mean
    mse0 = (pred[0] - target[0])[valid[0]].pow(2).mean()
    assert psnr_loss(pred, target, mask=mask).item() == pytest.approx((10 * torch.log10(mse0 + 1e-10)).item())


def test_all_valid_mask_and_no_mask_agree():
    pred, target, _ = _masked_batch()
    ones = torch.ones(2, 1, 16, 16, dtype=torch.float64)
    loss = ColorizationLoss({"l1": 1.0, "mse": 2.0, "psnr": 0.1, "ssim": 0.5})
    a, _ = loss({"rgb": pred}, target)
    b, _ = loss({"rgb": pred}, target, mask=ones)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
