import json

import pytest
import torch

from tests.engine.tiny_data import TinyPairs
from tests.models.test_trunk_unet import vgg_state

from crossspec.color import LUMA_BT601, gray_to_rgb, rgb_to_lab
from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.models import create_model, get_entry, load_model
from crossspec.models.zhang16 import Zhang16
from crossspec.ops.ab_gamut import gamut_centres

TINY = get_entry("zhang16").tiny_kwargs


def tiny(**kw):
    return Zhang16(**{**TINY, **kw}).eval()


@pytest.mark.parametrize("lightness", ["predict", "input"])
@pytest.mark.parametrize("hw", [(16, 16), (19, 30), (5, 7)])
def test_any_size_in_rgb_out(lightness, hw):
    model = tiny(lightness=lightness)
    x = torch.rand(2, 1, *hw)
    with torch.no_grad():
        out = model.forward_train(x)
        rgb = model(x)
    assert rgb.shape == (2, 3, *hw) and 0 <= rgb.min() and rgb.max() <= 1
    assert torch.equal(out["rgb"], rgb)
    s = model.logit_stride
    assert out["ab_logits"].shape == (2, 262, -(-hw[0] // s), -(-hw[1] // s))
    assert ("L" in out) == (lightness == "predict")
    if lightness == "predict":
        assert out["L"].shape == (2, 1, *hw) and 0 <= out["L"].min() and out["L"].max() <= 1


def test_registered_default_is_the_stride4_cpu_network():
    model = create_model("zhang16")
    assert model.size_multiple == 8 and model.logit_stride == 4 and model.bins == 262
    assert model.encoder.stages == 4 and model.encoder.frozen_stages == 4
    assert torch.equal(model.centres, gamut_centres())
    assert "centres" not in model.state_dict()
    with pytest.raises(ValueError, match="lightness"):
        Zhang16(lightness="nir")


def _force_bin(model, a, b, strength=50.0):
    """Make the classifier output one bin everywhere (zero weights, a one-hot bias)."""
    i = int(((model.centres[:, 0] == a) & (model.centres[:, 1] == b)).nonzero())
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.bias[i] = strength


def test_decodes_the_predicted_bin_and_keeps_the_input_lightness():
    model = tiny(lightness="input", match_luma=False)
    _force_bin(model, 20, -30)
    x = torch.full((1, 1, 12, 12), 0.5)
    with torch.no_grad():
        lab = rgb_to_lab(model(x))
    # the annealed mean of a near one-hot distribution is that bin's centre; L* is the input grey's
    assert torch.allclose(lab[:, 1:], torch.tensor([20.0, -30.0]).view(1, 2, 1, 1).expand_as(lab[:, 1:]), atol=0.05)
    assert torch.allclose(lab[:, :1], rgb_to_lab(gray_to_rgb(x))[:, :1], atol=0.05)


def test_gray_output_luma_equals_the_input():
    model = tiny(lightness="input")
    _force_bin(model, 10, 20, strength=3.0)
    x = torch.rand(2, 1, 16, 16) * 0.6 + 0.2  # away from 0 and 1, where the shift would clamp
    with torch.no_grad():
        rgb = model(x)
    luma = (rgb * torch.tensor(LUMA_BT601).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert torch.allclose(luma, x, atol=1e-5)
    assert (rgb[:, 0] - rgb[:, 1]).abs().mean() > 0.01  # and it has colour


def test_gradients_reach_the_heads_not_the_frozen_trunk():
    model = tiny(lightness="predict").train()
    out = model.forward_train(torch.rand(2, 1, 16, 16))
    (out["ab_logits"].logsumexp(1).mean() + out["L"].mean() + out["rgb"].mean()).backward()
    for part in (model.body, model.conv8, model.classifier, model.l_head, model.l_reduce):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in part.parameters())
    assert all(p.grad is None for p in model.encoder.parameters())


def test_load_encoder_takes_imagenet_weights():
    model = tiny()
    state = {k.removeprefix("features."): v for k, v in vgg_state().items() if k.startswith("features.")}
    model.load_encoder(state)
    torch.testing.assert_close(model.encoder.features[0].weight, state["0.weight"])


def _cfg(domain, kwargs, weights, options):
    return from_dict({
        "domain": domain,
        "model": {"name": "zhang16", "kwargs": kwargs},
        "data": {"crop": 16, "batch_size": 2, "workers": 0},
        "train": {"steps": 2, "lr": 1e-3, "log_every": 1, "ema_decay": None, "seed": 0},
        "loss": {"weights": weights, "options": options},
    })


@pytest.mark.parametrize("domain", ["nir", "gray"])
def test_trains_two_steps_through_the_trainer(tmp_path, domain):
    from crossspec.data.ab_prior import ab_prior_from_dataset
    from crossspec.io.ab_prior import save_ab_prior

    train = TinyPairs(n=4, size=16, crop=16, domain=domain)
    val = TinyPairs(n=1, size=16, seed=1, domain=domain)
    prior = tmp_path / "prior.npz"
    save_ab_prior(ab_prior_from_dataset(train, source="tiny"), prior)
    lightness = "predict" if domain == "nir" else "input"
    weights = {"ab_ce": 1.0, "lightness_l1": 10.0} if domain == "nir" else {"ab_ce": 1.0}
    cfg = _cfg(domain, {**TINY, "lightness": lightness}, weights, {"ab_prior": str(prior)})
    res = Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert res.step == 2
    lines = [json.loads(ln) for ln in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    steps = [ln for ln in lines if ln["kind"] == "train"]
    assert len(steps) == 2 and all(set(weights) <= set(ln) for ln in steps)
    model = load_model(tmp_path / "run")
    assert model(torch.rand(1, 1, 20, 12)).shape == (1, 3, 20, 12)


@pytest.mark.parametrize("domain", ["nir", "gray"])
def test_shipped_configs_build(domain, tmp_path):
    from pathlib import Path

    from crossspec.config import load_config
    from crossspec.losses import ColorizationLoss

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / domain / "zhang16.yaml",
                      ["loss.options.ab_prior=uniform"])
    assert cfg.domain == domain and cfg.model.name == "zhang16"
    model = create_model("zhang16", **cfg.model.kwargs)
    assert model.lightness == {"nir": "predict", "gray": "input"}[domain]
    loss = ColorizationLoss.from_config({"weights": dict(cfg.loss.weights), **cfg.loss.options})
    assert ("lightness_l1" in loss.weights) == (domain == "nir") and "ab_ce" in loss.weights
