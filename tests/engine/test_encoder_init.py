"""model.encoder_weights into ColorMamba's VGG16 RGB encoder, on its own and as the cooperative
model's colorizer: a fresh run starts from the file's ImageNet weights, frozen stages keep them,
and a model built without a pretrained encoder is refused by the key's name."""
import pytest
import torch
from safetensors.torch import load_file

from tests.engine.test_cooperative import coop_cfg, sets as coop_sets
from tests.engine.tiny_data import TinyPairs
from tests.models.test_trunk_unet import vgg_state

from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.errors import ConfigError
from crossspec.models import get_entry, load_model


def _cfg(name="colormamba-small-vgg16", **kw):
    return from_dict({
        "model": {"name": name, "kwargs": {**get_entry(name).tiny_kwargs, **kw}},
        "data": {"crop": 32, "batch_size": 2, "workers": 0},
        "train": {"steps": 2, "lr": 1e-3, "log_every": 1, "ema_decay": None, "seed": 0},
        "loss": {"weights": {"l1": 1.0, "hsv_mse": 0.1}},
    })


def _weights_file(tmp_path, seed):
    state = vgg_state(seed=seed)
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    return path, state


def _fit(cfg, run, train, val, **kw):
    return Trainer(cfg, run, device="cpu", train_set=train, val_set=val, progress=False, **kw).fit()


def test_colormamba_vgg16_starts_from_the_file_and_tunes_only_unfrozen_stages(tmp_path):
    wfile, state = _weights_file(tmp_path, seed=2)
    cfg = _cfg(rgb_frozen_stages=1)
    cfg.model.encoder_weights = str(wfile)
    res = _fit(cfg, tmp_path / "run", TinyPairs(n=4, size=32, crop=32), TinyPairs(n=1, size=32, seed=1))
    assert res.step == 2
    saved = load_file(str(tmp_path / "run/checkpoints/last.safetensors"))
    torch.testing.assert_close(saved["model.encoder.features.0.weight"], state["features.0.weight"])
    assert not torch.equal(saved["model.encoder.features.5.weight"], state["features.5.weight"])
    model = load_model(tmp_path / "run")
    assert model(torch.rand(1, 1, 21, 34)).shape == (1, 3, 21, 34)


def test_cooperative_colorizer_gets_the_option_and_the_weights(tmp_path):
    wfile, state = _weights_file(tmp_path, seed=6)
    cfg = coop_cfg(steps=(1, 1))  # the joint stage colorizes the translations: gradient through the trunk
    cfg.model.kwargs.update(rgb_encoder="vgg16", rgb_encoder_stages=3)
    cfg.model.encoder_weights = str(wfile)
    train, val = coop_sets()
    assert _fit(cfg, tmp_path / "run", train, val).step == 2
    saved = load_file(str(tmp_path / "run/checkpoints/last.safetensors"))
    for key in ("features.0.weight", "features.12.bias"):  # first and last layer of the frozen trunk
        torch.testing.assert_close(saved[f"model.colorizer.encoder.{key}"], state[key])
    model = load_model(tmp_path / "run")
    assert model(torch.rand(1, 1, 32, 32), domain="gray").shape == (1, 3, 32, 32)


def test_encoder_lr_scale_reaches_the_tuned_vgg_stages(tmp_path):
    cfg = _cfg(rgb_frozen_stages=2)
    cfg.train.encoder_lr_scale = 0.1
    tr = Trainer(cfg, tmp_path / "run", device="cpu", train_set=TinyPairs(n=4, size=32, crop=32),
                 val_set=TinyPairs(n=1, size=32, seed=1), progress=False)
    tr.fit(stop_after=1)
    rest, encoder = tr.opt.param_groups
    assert encoder["lr"] == pytest.approx(0.1 * rest["lr"])
    assert {id(p) for p in encoder["params"]} == {id(p) for p in tr.model.encoder.parameters()}


def test_cooperative_refuses_encoder_lr_scale(tmp_path):
    cfg = coop_cfg()
    cfg.model.kwargs.update(rgb_encoder="vgg16", rgb_encoder_stages=3, rgb_frozen_stages=1)
    cfg.train.encoder_lr_scale = 0.1
    train, val = coop_sets()
    with pytest.raises(ConfigError, match="train.encoder_lr_scale: 'cocolor-small' trains in per-part groups"):
        _fit(cfg, tmp_path / "run", train, val)


@pytest.mark.parametrize("name", ["colormamba-small", "cocolor-small"])
def test_encoder_weights_without_the_vgg_encoder_is_a_config_error(tmp_path, name):
    if get_entry(name).task == "cooperative":
        cfg = coop_cfg(name)
        train, val = coop_sets()
    else:
        cfg = _cfg(name)
        train, val = TinyPairs(n=4, size=32, crop=32), TinyPairs(n=1, size=32, seed=1)
    cfg.model.encoder_weights = "auto"
    with pytest.raises(ConfigError, match=f"model.encoder_weights: '{name}' has no pretrained encoder"):
        _fit(cfg, tmp_path / "run", train, val)


def test_cached_frozen_trunk_trains(tmp_path, caplog):
    cfg = _cfg()
    cfg.train.cache_trunk = True
    with caplog.at_level("INFO"):
        res = _fit(cfg, tmp_path / "run", TinyPairs(n=3, size=64, crop=32), TinyPairs(n=1, size=32, seed=1))
    assert res.step == 2 and res.last.is_file()
    assert "trunk cache: 3 images x 2 versions, stages [1, 2]" in caplog.text
