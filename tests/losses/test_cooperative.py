"""Cooperative loss terms: values, which parts they train, and when they vanish."""
import pytest
import torch

from crossspec.losses import ColorizationLoss
from crossspec.engine.tasks.cooperative import plan_for
from crossspec.losses.cooperative import TERMS, CooperativeLoss, feature_distance
from crossspec.models import create_model

from tests.models.test_cocolor import _batch


def _grads(model):
    return {part: sum(float(p.grad.abs().sum()) for p in getattr(model, part).parameters() if p.grad is not None)
            for part in ("colorizer", "nir2gray", "gray2nir")}


# which parts each term must reach (translators are identity at init, so their head still gets a gradient)
REACHES = {
    "nir_color": {"colorizer"},
    "gray_color": {"colorizer"},
    "translated_color": {"colorizer", "nir2gray", "gray2nir"},
    "translate": {"nir2gray", "gray2nir"},
    "cycle": {"nir2gray", "gray2nir"},
    "pixel_consistency": {"colorizer", "nir2gray", "gray2nir"},
    "feature_consistency": {"colorizer", "nir2gray", "gray2nir"},
}


@pytest.mark.parametrize("term", list(TERMS))
def test_each_term_is_finite_and_trains_the_right_parts(term):
    assert set(REACHES) == set(TERMS)
    torch.manual_seed(0)
    model = create_model("cocolor-small", tiny=True)
    with torch.no_grad():  # make the translators and domains differ, so consistency terms are not 0
        model.nir2gray.head.weight.normal_(0, 0.3)
        model.gray2nir.head.weight.normal_(0, 0.3)
        model.colorizer.domain_film["rgb"].beta.normal_(0, 0.3)
    batch = _batch()
    weights = {term: 1.0}
    out = model.cooperative_forward(batch, plan_for(weights))
    total, terms = CooperativeLoss(ColorizationLoss({"l1": 1.0, "hsv_mse": 0.1}))(out, batch, weights)
    assert set(terms) == {term} and torch.isfinite(total) and float(total.detach()) > 0
    total.backward()
    reached = {part for part, g in _grads(model).items() if g > 0}
    assert reached == REACHES[term]


def test_zero_weight_terms_are_skipped_and_weights_apply():
    model = create_model("cocolor-small", tiny=True)
    batch = _batch()
    w = {"nir_color": 2.0, "gray_color": 0.0, "translate": 0.5}
    out = model.cooperative_forward(batch, plan_for(w))
    assert "nir_via_gray" not in out
    total, terms = CooperativeLoss(ColorizationLoss({"l1": 1.0}))(out, batch, w)
    assert set(terms) == {"nir_color", "translate"}
    torch.testing.assert_close(total, 2.0 * terms["nir_color"] + 0.5 * terms["translate"])


def test_consistency_vanishes_for_identity_translators_and_shared_domains():
    """At init the translators are the identity and the domain tables are 0: an image and its
    translation are colorized alike, so both consistency terms are ~0 while colour terms are not."""
    model = create_model("cocolor-small", tiny=True).eval()
    batch = _batch()
    batch["input"] = batch["input"].clamp(0.01, 0.99)
    batch["gray_input"] = batch["gray_input"].clamp(0.01, 0.99)
    w = {"pixel_consistency": 1.0, "feature_consistency": 1.0, "nir_color": 1.0}
    with torch.no_grad():
        _, terms = CooperativeLoss(ColorizationLoss({"l1": 1.0}))(model.cooperative_forward(batch, plan_for(w)),
                                                                   batch, w)
    assert float(terms["pixel_consistency"]) < 1e-4
    assert float(terms["feature_consistency"]) < 1e-4
    assert float(terms["nir_color"]) > 0.05


def test_feature_distance_bounds_and_gradcheck():
    a = [torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)]
    with torch.no_grad():
        assert float(feature_distance(a, a)) == pytest.approx(0.0, abs=1e-12)
        assert float(feature_distance(a, [-a[0]])) == pytest.approx(2.0)
    b = [torch.randn(2, 4, 3, 3, dtype=torch.float64)]
    assert torch.autograd.gradcheck(lambda x: feature_distance([x], b), a)
