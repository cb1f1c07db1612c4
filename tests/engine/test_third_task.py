"""A new kind of training is one module plus a registry entry: tests/engine/hint_task.py trains
through the unchanged Trainer (checkpoints, resume and validation included)."""
import json

import torch

from tests.engine import hint_task
from tests.engine.tiny_data import TinyPairs

from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.models import get_entry, load_model


def _cfg(steps):
    return from_dict({
        "model": {"name": hint_task.MODEL, "kwargs": {"width": 4}},
        "data": {"crop": 8, "batch_size": 2, "workers": 0},
        "train": {"steps": steps, "lr": 1e-2, "seed": 2, "ema_decay": None, "log_every": 1, "ckpt_every": 1},
        "loss": {"weights": {"l1": 1.0}},
    })


def test_a_task_defined_outside_the_package_trains_and_resumes(tmp_path, monkeypatch):
    hint_task.register(monkeypatch)
    assert get_entry(hint_task.MODEL).task == hint_task.TASK
    train, val = TinyPairs(n=4, size=16, crop=8), TinyPairs(n=1, size=16, seed=1)
    straight = Trainer(_cfg(3), tmp_path / "a", device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert straight.step == 3 and straight.metrics["images"] == 1
    lines = [json.loads(l) for l in (tmp_path / "a/log.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines if l["kind"] == "train"] == [1, 2, 3]
    # the hints reached the model: with them it colours differently than without
    model = load_model(tmp_path / "a")
    x, y = val[0]["input"][None], val[0]["target"][None]
    with torch.no_grad():
        assert not torch.equal(model(x), model(x, y, torch.ones_like(x)))
    # the engine's resume works for it as for the built-in tasks
    Trainer(_cfg(3), tmp_path / "b", device="cpu", train_set=train, val_set=val, progress=False).fit(stop_after=2)
    resumed = Trainer(_cfg(3), tmp_path / "b", device="cpu", resume=True, train_set=train, val_set=val,
                      progress=False).fit()
    from safetensors.torch import load_file

    a, b = load_file(str(straight.last)), load_file(str(resumed.last))
    assert all(torch.equal(a[k], b[k]) for k in a)
