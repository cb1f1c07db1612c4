import math

import numpy as np
import pytest
import torch

from crossspec.color import lab_to_rgb, rgb_to_lab
from crossspec.errors import ConfigError, CrossspecError, DataError
from crossspec.io.ab_prior import AbPrior, save_ab_prior
from crossspec.losses import ColorizationLoss
from crossspec.losses.ab_ce import ab_cross_entropy
from crossspec.losses.lightness import lightness_l1
from crossspec.ops.ab_gamut import gamut_centres, soft_encode

Q = 262


@pytest.fixture(scope="module")
def centres():
    return gamut_centres()


def at(centres, a, b):
    return int(((centres[:, 0] == a) & (centres[:, 1] == b)).nonzero())


def test_uniform_logits_cost_log_q(centres):
    ab = torch.randn(2, 2, 4, 4) * 30
    logits = torch.zeros(2, Q, 4, 4)
    assert ab_cross_entropy(logits, ab, centres).item() == pytest.approx(math.log(Q), rel=1e-6)
    # rebalanced: each pixel weighted by the weight of its nearest bin
    w = torch.rand(Q) + 0.5
    nearest = soft_encode(ab, centres).argmax(1)
    assert ab_cross_entropy(logits, ab, centres, w).item() == pytest.approx(math.log(Q) * w[nearest].mean().item(), rel=1e-5)


def test_cross_entropy_by_hand_on_one_pixel(centres):
    ab = torch.zeros(1, 2, 1, 1)  # on the (0, 0) centre: targets 1/(1+4e^-2) there, e^-2/(1+4e^-2) on its 4 neighbours
    logits = torch.zeros(1, Q, 1, 1)
    logits[0, at(centres, 0, 0)] = 5.0
    logits[0, at(centres, 10, 0)] = 2.0
    log_norm = math.log(math.exp(5.0) + math.exp(2.0) + (Q - 2))
    e2 = math.exp(-2)
    z0, zn = 1 / (1 + 4 * e2), e2 / (1 + 4 * e2)
    want = -(z0 * (5.0 - log_norm) + zn * (2.0 - log_norm) + 3 * zn * (0.0 - log_norm))
    assert ab_cross_entropy(logits, ab, centres).item() == pytest.approx(want, rel=1e-6)
    w = torch.ones(Q)
    w[at(centres, 0, 0)] = 3.0
    assert ab_cross_entropy(logits, ab, centres, w).item() == pytest.approx(3 * want, rel=1e-6)


def test_target_is_area_averaged_to_the_logits(centres):
    ab = torch.zeros(1, 2, 4, 4)
    ab[:, 0, :, :2] = 18.0  # left half a = 18, right half a = 22: the 4x4 mean is a = 20 exactly
    ab[:, 0, :, 2:] = 22.0
    logits = torch.randn(1, Q, 1, 1)
    assert ab_cross_entropy(logits, ab, centres).item() == pytest.approx(
        ab_cross_entropy(logits, torch.tensor([20.0, 0.0]).view(1, 2, 1, 1), centres).item(), rel=1e-6)


def test_mask_leaves_cells_with_an_invalid_pixel_out(centres):
    ab = torch.randn(1, 2, 4, 4) * 20
    logits = torch.randn(1, Q, 2, 2, requires_grad=True)
    mask = torch.ones(1, 1, 4, 4)
    mask[..., 3, 3] = 0  # the bottom-right 2x2 cell is no longer all valid
    loss = ab_cross_entropy(logits, ab, centres, mask=mask)
    other = ab.clone()
    other[..., 2:, 2:] = 90.0
    assert ab_cross_entropy(logits, other, centres, mask=mask).item() == pytest.approx(loss.item())
    loss.backward()
    assert torch.all(logits.grad[..., 1, 1] == 0) and torch.any(logits.grad[..., 0, 0] != 0)
    full = ab_cross_entropy(logits.detach(), ab, centres, mask=torch.ones(1, 1, 4, 4))
    assert full.item() == pytest.approx(ab_cross_entropy(logits.detach(), ab, centres).item())


def test_lightness_l1_by_hand():
    pred = torch.full((1, 1, 2, 2), 0.5)
    target = torch.tensor([0.0, 0.5, 1.0, 0.5]).view(1, 1, 2, 2)
    assert lightness_l1(pred, target).item() == pytest.approx(0.25)
    mask = torch.tensor([0.0, 1.0, 1.0, 1.0]).view(1, 1, 2, 2)
    assert lightness_l1(pred, target, mask).item() == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        lightness_l1(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))


def _prior_file(path, centres, weights):
    p = np.full(len(centres), 1.0 / len(centres))
    save_ab_prior(AbPrior(centres=centres.numpy(), counts=p, prior=p, prior_smoothed=p, weights=np.asarray(weights),
                          sigma=5.0, lam=0.5, grid=10.0), path)
    return path


def test_composite_ab_ce_reads_the_prior_file(tmp_path, centres):
    weights = np.linspace(0.5, 2.0, Q)
    path = _prior_file(tmp_path / "prior.npz", centres, weights)
    loss = ColorizationLoss.from_config({"weights": {"ab_ce": 1.0}, "ab_prior": str(path)})
    target = torch.rand(2, 3, 8, 8)
    logits = torch.randn(2, Q, 2, 2)
    total, terms = loss({"rgb": target, "ab_logits": logits}, target)
    want = ab_cross_entropy(logits, rgb_to_lab(target)[:, 1:], centres, torch.tensor(weights).float())
    assert total.item() == pytest.approx(want.item(), rel=1e-5) and set(terms) == {"ab_ce"}
    uniform = ColorizationLoss({"ab_ce": 1.0}, ab_prior="uniform")
    assert uniform({"rgb": target, "ab_logits": logits}, target)[0].item() == pytest.approx(
        ab_cross_entropy(logits, rgb_to_lab(target)[:, 1:], centres).item(), rel=1e-5)


def test_composite_ab_ce_refuses_a_missing_or_wrong_prior(tmp_path, centres):
    with pytest.raises(ConfigError, match="loss.options.ab_prior: the ab_ce term needs.*'uniform'"):
        ColorizationLoss({"ab_ce": 1.0})
    missing = tmp_path / "missing.npz"
    with pytest.raises(DataError, match=f"^{missing}: ab-prior file not found"):
        ColorizationLoss({"ab_ce": 1.0}, ab_prior=str(missing))
    other = _prior_file(tmp_path / "other.npz", centres[:-1], np.ones(Q - 1))
    with pytest.raises(DataError, match=f"^{other}: its 261 ab bins are not this crossspec's gamut"):
        ColorizationLoss({"ab_ce": 1.0}, ab_prior=str(other))
    with pytest.raises(ConfigError, match="did you mean 'ab_prior'"):
        ColorizationLoss.from_config({"weights": {"ab_ce": 1.0}, "ab_prio": "uniform"})


def test_composite_lab_terms_need_their_outputs():
    target = torch.rand(1, 3, 8, 8)
    with pytest.raises(CrossspecError, match="ab_ce: the model gives no 'ab_logits' output"):
        ColorizationLoss({"ab_ce": 1.0}, ab_prior="uniform")({"rgb": target}, target)
    with pytest.raises(CrossspecError, match="lightness_l1: the model gives no 'L' output.*lightness='predict'"):
        ColorizationLoss({"lightness_l1": 1.0})({"rgb": target}, target)


def test_composite_lightness_l1_compares_with_lab_lightness():
    lab = torch.zeros(1, 3, 4, 4)
    lab[:, 0] = 60.0
    target = lab_to_rgb(lab)
    loss = ColorizationLoss({"lightness_l1": 2.0, "l1": 1.0})
    pred_l = torch.full((1, 1, 4, 4), 0.5)
    total, terms = loss({"rgb": target, "L": pred_l}, target)
    assert terms["lightness_l1"].item() == pytest.approx(0.1, abs=1e-4) and terms["l1"].item() == 0.0
    assert total.item() == pytest.approx(0.2, abs=2e-4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 0, 0] = 1
    assert loss({"rgb": target, "L": pred_l}, target, mask=mask)[1]["lightness_l1"].item() == pytest.approx(0.1, abs=1e-4)
