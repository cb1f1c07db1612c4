"""train.encoder_lr_scale: a pretrained encoder's unfrozen stages train at a fraction of train.lr,
through the whole schedule, and a model with nothing to scale is refused by name."""
import pytest

from tests.engine.tiny_data import TinyPairs

from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.errors import ConfigError


def _cfg(frozen, scale):
    return from_dict({
        "model": {"name": "unet-vgg16", "kwargs": {"stages": 3, "frozen_stages": frozen, "widths": (8, 8)}},
        "data": {"crop": 16, "batch_size": 2, "workers": 0},
        "train": {"steps": 4, "lr": 1e-2, "schedule": "cosine", "lr_min": 0.0, "encoder_lr_scale": scale,
                  "ema_decay": None, "log_every": 1},
        "loss": {"weights": {"l1": 1.0}},
    })


def test_unfrozen_encoder_stages_follow_the_schedule_at_the_scaled_rate(tmp_path):
    tr = Trainer(_cfg(1, 0.1), tmp_path / "r", device="cpu", train_set=TinyPairs(n=4, size=32, crop=16),
                 val_set=TinyPairs(n=1, size=32), progress=False)
    tr.fit(stop_after=2)
    decoder, encoder = tr.opt.param_groups
    assert encoder["lr"] == pytest.approx(0.1 * decoder["lr"]) and decoder["lr"] < 1e-2  # both decayed
    enc_ids = {id(p) for n, p in tr.model.named_parameters() if n.startswith("encoder.")}
    assert {id(p) for p in encoder["params"]} == enc_ids
    assert not enc_ids & {id(p) for p in decoder["params"]}


def test_nothing_to_scale_is_an_error(tmp_path):
    tr = Trainer(_cfg(3, 0.1), tmp_path / "r", device="cpu", train_set=TinyPairs(n=4, size=32, crop=16),
                 val_set=TinyPairs(n=1, size=32), progress=False)
    with pytest.raises(ConfigError, match="encoder_lr_scale.*no trainable encoder"):
        tr.fit()
