import json

import pytest
import torch

from tests.engine.tiny_data import TinyPairs

from crossspec.color import rgb_to_luminance, yuv_to_rgb
from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.models import create_model, get_entry
from crossspec.models import load_model
from crossspec.models.cheng import Cheng15
from crossspec.models.cheng.features import PixelFeatures
from crossspec.ops import joint_bilateral_filter


def randomised(model, scale=0.05):
    """The zero-initialised output layer given small random weights, so the model predicts colour."""
    torch.manual_seed(1)
    with torch.no_grad():
        model.head.weight.normal_(0, scale)
        model.head.bias.normal_(0, scale)
    return model


@pytest.mark.parametrize("luma", [False, True])
@pytest.mark.parametrize("hw", [(16, 16), (13, 30), (1, 1), (3, 5)])
def test_any_size_gives_rgb_in_range(luma, hw):
    model = randomised(create_model("cheng15", tiny=True, luma_from_input=luma)).eval()
    y = model(torch.rand(2, 1, *hw))
    assert y.shape == (2, 3, *hw) and 0 <= y.min() and y.max() <= 1


def test_untrained_nir_model_is_the_nir_gray_baseline():
    model = Cheng15(hidden=(8,)).eval()
    x = torch.rand(2, 1, 12, 12)
    torch.testing.assert_close(model(x), x.expand(-1, 3, -1, -1))
    out = model.forward_train(x)
    assert set(out) == {"rgb", "uv", "y"}
    torch.testing.assert_close(out["y"], x)


def test_gray_keeps_the_input_as_luminance():
    model = randomised(Cheng15(hidden=(8,), luma_from_input=True)).eval()
    x = torch.rand(2, 1, 12, 12) * 0.4 + 0.3
    out = model.forward_train(x)
    assert set(out) == {"rgb", "uv"} and out["uv"].abs().max() > 0.01
    assert out["rgb"].min() > 0 and out["rgb"].max() < 1  # nothing clamped...
    torch.testing.assert_close(rgb_to_luminance(out["rgb"]), x, atol=1e-5, rtol=0)  # ...so Y is exactly x


def test_bilateral_filter_runs_at_inference_only_by_default():
    model = randomised(Cheng15(hidden=(8,), luma_from_input=True, sigma_space=1.5, sigma_range=0.2)).eval()
    x = torch.rand(1, 1, 10, 10)
    train = model.forward_train(x)
    # training output: the raw per-pixel prediction composed with Y
    torch.testing.assert_close(train["rgb"], yuv_to_rgb(torch.cat([x, train["uv"]], 1)).clamp(0, 1))
    # inference: the chroma filtered along the input's edges
    want = yuv_to_rgb(torch.cat([x, joint_bilateral_filter(train["uv"], x, 1.5, 0.2)], 1)).clamp(0, 1)
    torch.testing.assert_close(model(x), want)
    assert (model(x) - train["rgb"]).abs().max() > 1e-3
    model.bilateral = False
    torch.testing.assert_close(model(x), train["rgb"])
    both = Cheng15(hidden=(8,), luma_from_input=True, sigma_space=1.5, sigma_range=0.2,
                   bilateral_in_training=True).eval()
    both.load_state_dict(model.state_dict())
    torch.testing.assert_close(both.forward_train(x)["rgb"], want)


def test_nir_luma_is_filtered_only_when_asked():
    x = torch.rand(1, 1, 10, 10)
    plain = randomised(Cheng15(hidden=(8,), sigma_space=1.0, radius=1)).eval()
    raw = plain.forward_train(x)
    assert (plain(x) - yuv_to_rgb(torch.cat([raw["y"], joint_bilateral_filter(raw["uv"], x, 1.0, 0.1, 1)], 1))
            .clamp(0, 1)).abs().max() < 1e-6
    plain.bilateral_luma = True
    yuv = joint_bilateral_filter(torch.cat([raw["y"], raw["uv"]], 1), x, 1.0, 0.1, 1)
    torch.testing.assert_close(plain(x), yuv_to_rgb(yuv).clamp(0, 1))


def test_pixel_features_by_hand():
    feats = PixelFeatures()
    x = torch.rand(1, 1, 20, 24)
    f = feats(x)
    assert f.shape == (1, feats.channels, 20, 24) and feats.channels == 162
    # the first 49 channels are the 7x7 window, row by row
    i, j = 9, 11
    torch.testing.assert_close(f[0, :49, i, j], x[0, 0, i - 3:i + 4, j - 3:j + 4].reshape(-1))
    # a constant image: no gradient energy, and histograms that put all mass in its bin
    const = torch.full((1, 1, 16, 16), 0.5625)  # centre of bin 4 of 8
    fc = feats(const)
    daisy = fc[0, 74:146]
    hist = fc[0, 146:]
    assert daisy.abs().max() == 0
    torch.testing.assert_close(hist[:, 5, 5], torch.eye(8)[4].repeat(2))


def test_daisy_energy_faces_the_edge_direction():
    x = torch.zeros(1, 1, 24, 24)
    x[..., 12:] = 1.0  # dark to bright along +x
    centre = PixelFeatures()(x)[0, 74:82, 12, 12]  # the 8 orientations at the centre point
    assert centre.argmax() == 0 and centre[0] > 0  # orientation 0 points along +x
    assert centre[3:6].abs().max() == 0  # those facing away from the step (135-225 degrees) see nothing


def test_eval_output_of_a_sample_does_not_depend_on_its_batch():
    model = randomised(create_model("cheng15", tiny=True))
    model.train()
    model.forward_train(torch.rand(4, 1, 16, 16))  # update the running feature statistics
    model.eval()
    a, b = torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)
    torch.testing.assert_close(model(torch.cat([a, b]))[:1], model(a))


def test_gradient_reaches_every_parameter():
    model = randomised(create_model("cheng15", tiny=True))
    out = model.forward_train(torch.rand(2, 1, 16, 16))
    (out["rgb"].mean() + out["uv"].pow(2).mean() + out["y"].mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert not list(model.features.state_dict())  # the fixed features store no weights


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="hidden"):
        Cheng15(hidden=())
    with pytest.raises(ValueError, match="sigma"):
        Cheng15(sigma_range=0)
    with pytest.raises(ValueError, match=r"expects \(B, 1, H, W\)"):
        Cheng15(hidden=(4,))(torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("domain,luma", [("nir", False), ("gray", True)])
def test_trains_with_the_yuv_term_through_the_trainer(tmp_path, domain, luma):
    entry = get_entry("cheng15")
    cfg = from_dict({
        "domain": domain,
        "model": {"name": "cheng15", "kwargs": {**entry.tiny_kwargs, "luma_from_input": luma}},
        "data": {"crop": 16, "batch_size": 2, "workers": 0},
        "train": {"steps": 2, "lr": 1e-3, "log_every": 1, "ema_decay": None, "seed": 0},
        "loss": {"weights": {"yuv_mse": 1.0}},
    })
    train, val = TinyPairs(n=4, size=16, crop=16, domain=domain), TinyPairs(n=1, size=16, domain=domain)
    res = Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert res.step == 2
    lines = [json.loads(ln) for ln in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert all(ln["yuv_mse"] > 0 for ln in lines if ln["kind"] == "train")
    model = load_model(tmp_path / "run")
    assert model.luma_from_input is luma and model(torch.rand(1, 1, 9, 11)).shape == (1, 3, 9, 11)


def test_colour_conversion_stays_float32_under_bf16_autocast():
    model = randomised(create_model("cheng15", tiny=True)).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rgb = model(torch.rand(1, 1, 16, 16))
    assert rgb.dtype == torch.float32


@pytest.mark.parametrize("domain", ["nir", "gray"])
def test_shipped_configs_build_their_model_and_loss(domain):
    from pathlib import Path

    from crossspec.config import load_config
    from crossspec.losses import ColorizationLoss

    cfg = load_config(Path(__file__).resolve().parents[2] / f"configs/{domain}/cheng15.yaml")
    assert cfg.domain == domain and cfg.data.dataset == "vcip2020" and cfg.data.train_split == "train-fit"
    model = create_model(cfg.model.name, **cfg.model.kwargs)
    assert isinstance(model, Cheng15) and model.luma_from_input == (domain == "gray")
    assert model.bilateral and not model.bilateral_in_training
    loss = ColorizationLoss.from_config({"weights": dict(cfg.loss.weights), **cfg.loss.options})
    assert set(loss.weights) == {"yuv_mse"}
