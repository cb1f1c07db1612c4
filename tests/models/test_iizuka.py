import json

import pytest
import torch

from tests.engine.tiny_data import TinyPairs

from crossspec.color import lab_to_rgb, rgb_to_luminance
from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.models import create_model, get_entry
from crossspec.models import load_model
from crossspec.models.iizuka import Iizuka16
from crossspec.models.iizuka.networks import Fusion


def tiny(**kw):
    torch.manual_seed(0)
    return create_model("iizuka16", tiny=True, **kw)


@pytest.mark.parametrize("luma", [False, True])
@pytest.mark.parametrize("hw", [(32, 32), (19, 45), (5, 7)])
def test_any_size_gives_rgb_in_range(luma, hw):
    model = tiny(luma_from_input=luma).eval()
    y = model(torch.rand(2, 1, *hw))
    assert y.shape == (2, 3, *hw) and 0 <= y.min() and y.max() <= 1


def test_training_outputs_per_domain():
    x = torch.rand(2, 1, 24, 40)
    nir = tiny().forward_train(x)
    assert set(nir) == {"rgb", "ab", "L", "scene_logits"}
    assert nir["ab"].shape == (2, 2, 24, 40) and nir["L"].shape == (2, 1, 24, 40)
    assert nir["scene_logits"].shape == (2, 4)
    gray = tiny(luma_from_input=True, num_classes=0).forward_train(x)
    assert set(gray) == {"rgb", "ab"}
    assert "scene_logits" not in tiny().train(False)._run(x, classify=False)  # inference skips the head


def test_gray_output_keeps_the_input_as_luminance():
    model = tiny(luma_from_input=True)
    with torch.no_grad():
        model.color.body[-1].weight.normal_(0, 0.03)  # moderate chroma (the layer starts at zero)...
    x = torch.rand(2, 1, 16, 16) * 0.4 + 0.3  # ...and mid-range input: no clamping at 0 or 1
    out = model.forward_train(x)
    assert (out["ab"] - 0.5).abs().max() > 0.01  # not neutral: there is chroma to keep
    torch.testing.assert_close(rgb_to_luminance(out["rgb"]), x, atol=1e-5, rtol=0)
    # chroma is the network's: neutral ab (the untrained model's) gives a neutral image
    rgb = tiny(luma_from_input=True)(x)
    torch.testing.assert_close(rgb, x.expand(-1, 3, -1, -1), atol=1e-4, rtol=0)


def test_nir_lightness_is_an_affine_map_of_the_input():
    # the last layer starts at zero: gain 1, offset 0, a = b = 0; set gain 1.5 and offset -0.1
    model = tiny()
    with torch.no_grad():
        model.color.body[-1].bias[2] = 0.5
        model.color.body[-1].bias[3] = -0.1
    x = torch.rand(1, 1, 16, 16) * 0.5
    out = model.forward_train(x)
    torch.testing.assert_close(out["L"], 1.5 * x - 0.1)
    torch.testing.assert_close(out["ab"], torch.full_like(out["ab"], 0.5))
    lab = torch.cat([(150 * x - 10).clamp(0, 100), torch.zeros(1, 2, 16, 16)], dim=1)
    torch.testing.assert_close(out["rgb"], lab_to_rgb(lab), atol=1e-5, rtol=0)


def test_fusion_broadcasts_the_global_vector_then_mixes_with_a_1x1_conv():
    torch.manual_seed(0)
    fusion = Fusion(3, 2)
    mid, glob = torch.randn(1, 3, 4, 5), torch.randn(1, 2)
    w, b = fusion.mix.weight[:, :, 0, 0], fusion.mix.bias
    want = torch.relu(torch.einsum("oc,bchw->bohw", w[:, :3], mid)
                      + (w[:, 3:] @ glob[0] + b).view(1, -1, 1, 1))
    torch.testing.assert_close(fusion(mid, glob), want)


def test_low_level_weights_serve_the_global_path_too():
    model = tiny()
    # the classifier reads only the global path; its gradient must reach the one low-level network
    model.forward_train(torch.rand(2, 1, 24, 24))["scene_logits"].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.low.parameters())
    assert all(p.grad is None for p in model.mid.parameters())
    assert not [n for n, _ in model.named_children() if n not in {"low", "mid", "glob", "fusion", "color", "classifier"}]


def test_global_path_sees_the_whole_image_at_a_fixed_size():
    torch.manual_seed(0)
    model = Iizuka16(width=8, global_size=32, luma_from_input=True).eval()  # wide enough to keep ReLUs alive
    with torch.no_grad():
        model.color.body[-1].weight.normal_(0, 0.2)
    x = torch.rand(1, 1, 256, 256) * 0.4 + 0.3
    y = x.clone()
    y[..., 192:, 192:] = 0.9  # outside the ~115 px local receptive field of pixel (0, 0)...
    a, b = model.forward_train(x)["ab"], model.forward_train(y)["ab"]
    # ...yet the fused global vector changes its colour
    assert (a[..., :4, :4] - b[..., :4, :4]).abs().max() > 0
    seen = []
    model.glob.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    model(torch.rand(1, 1, 40, 72))
    assert seen[-1][-2:] == (32 // 8, 32 // 8)  # global_size 32 -> low-level 4x4, whatever the input size


def test_every_parameter_gets_a_gradient():
    model = tiny()
    with torch.no_grad():
        model.color.body[-1].weight.normal_(0, 0.2)  # a zero last layer would block the others' gradient
    out = model.forward_train(torch.rand(2, 1, 32, 32))
    (out["rgb"].mean() + out["ab"].mean() + out["L"].mean() + out["scene_logits"].sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        Iizuka16(width=2, global_size=100)
    with pytest.raises(ValueError, match=r"expects \(B, 1, H, W\)"):
        tiny()(torch.rand(1, 3, 16, 16))


class LabelledPairs(TinyPairs):
    def __init__(self, *a, labelled=True, **kw):
        super().__init__(*a, **kw)
        self.labelled = labelled

    def __getitem__(self, i):
        sample = super().__getitem__(i)
        if self.labelled:
            sample["label"] = i % 4
        return sample


@pytest.mark.parametrize("domain,luma", [("nir", False), ("gray", True)])
def test_trains_with_the_scene_term_through_the_trainer(tmp_path, domain, luma):
    entry = get_entry("iizuka16")
    cfg = from_dict({
        "domain": domain,
        "model": {"name": "iizuka16", "kwargs": {**entry.tiny_kwargs, "luma_from_input": luma}},
        "data": {"crop": 32, "batch_size": 2, "workers": 0},
        "train": {"steps": 2, "lr": 1e-3, "log_every": 1, "ema_decay": None, "seed": 0},
        "loss": {"weights": {"lab_mse": 1.0, "scene_ce": 1 / 300}},
    })
    train = LabelledPairs(n=4, size=32, crop=32, domain=domain)
    val = LabelledPairs(n=1, size=32, domain=domain, labelled=False)
    res = Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert res.step == 2
    lines = [json.loads(ln) for ln in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    train_lines = [ln for ln in lines if ln["kind"] == "train"]
    # the labels reached the loss: cross-entropy of 4 classes near log 4, not the 0 of "no labels"
    assert all(1.0 < ln["scene_ce"] < 2.0 and ln["lab_mse"] > 0 for ln in train_lines)
    model = load_model(tmp_path / "run")
    assert model(torch.rand(1, 1, 20, 28)).shape == (1, 3, 20, 28)


def test_colour_conversion_stays_float32_under_bf16_autocast():
    model = tiny()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.forward_train(torch.rand(1, 1, 32, 32))
    assert out["rgb"].dtype == out["ab"].dtype == out["L"].dtype == torch.float32


@pytest.mark.parametrize("domain", ["nir", "gray"])
def test_shipped_configs_build_their_model_and_loss(domain):
    from pathlib import Path

    from crossspec.config import load_config
    from crossspec.losses import ColorizationLoss

    cfg = load_config(Path(__file__).resolve().parents[2] / f"configs/{domain}/iizuka16.yaml")
    assert cfg.domain == domain and cfg.data.dataset == "vcip2020" and cfg.data.train_split == "train-fit"
    model = create_model(cfg.model.name, **cfg.model.kwargs)
    # the gray domain keeps the input's luminance; NIR predicts it
    assert isinstance(model, Iizuka16) and model.luma_from_input == (domain == "gray")
    assert model.num_classes == 4 and model.global_size == 224
    loss = ColorizationLoss.from_config({"weights": dict(cfg.loss.weights), **cfg.loss.options})
    assert loss.weights["lab_mse"] == 1.0 and loss.weights["scene_ce"] == pytest.approx(1 / 300)
