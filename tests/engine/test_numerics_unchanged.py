"""Refactors of the engine must not move a single bit of the trained weights.

The expected digests below were produced by this very test's ``_digest`` on the code of commit
5edcea8 (main, before the engine/registry redesign of issue 17), torch 2.13.0+cpu, CPU, one thread
(``OMP_NUM_THREADS=1``): run ``python -m pytest -q tests/engine/test_numerics_unchanged.py`` with
``CROSSSPEC_PRINT_DIGESTS=1`` to print them. Float results on CPU depend on the torch build and the
instruction set, so the test skips under another torch version rather than fail for that reason.
"""
import hashlib
import os

import pytest
import torch

from tests.engine.tiny_data import TinyPairs

from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.models import get_entry

RECORDED_TORCH = "2.13.0+cpu"
EXPECTED = {
    "supervised": "15552e20f82f13a1ecf25526e39ec8fdd036d1b248e1ab0025173b776fd1a156",
    "cooperative": "e8d695641c155c5b5cf374b156191d7f7011e7a830984d155227cc6e0d516ec8",
}


def _digest(path) -> str:
    """sha256 over every tensor of a weights file (model and EMA), in key order."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    h = hashlib.sha256()
    for k in sorted(tensors):
        h.update(k.encode())
        h.update(tensors[k].contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _supervised(tmp_path):
    cfg = from_dict({
        "model": {"name": "unet", "kwargs": {"base": 8, "depth": 3}},
        "data": {"crop": 16, "batch_size": 2, "workers": 0},
        "train": {"steps": 3, "lr": 1e-3, "seed": 7, "ema_decay": 0.9, "schedule": "cosine", "warmup_steps": 1,
                  "log_every": 1},
        "loss": {"weights": {"l1": 1.0, "mse": 0.5}},
        "gan": {"enabled": True, "kwargs": {"base": 8, "layers": 2}},
    })
    train, val = TinyPairs(n=4, size=24, crop=16), TinyPairs(n=1, size=16, seed=1)
    return Trainer(cfg, tmp_path / "sup", device="cpu", train_set=train, val_set=val, progress=False).fit()


def _cooperative(tmp_path):
    warmup = {"nir_color": 1.0, "gray_color": 1.0, "translate": 1.0, "cycle": 0.5}
    joint = {**warmup, "translated_color": 0.5, "pixel_consistency": 0.5, "feature_consistency": 0.1}
    cfg = from_dict({
        "model": {"name": "cocolor-small", "kwargs": dict(get_entry("cocolor-small").tiny_kwargs)},
        "data": {"crop": 32, "batch_size": 2, "workers": 0},
        "train": {"lr": 1e-3, "seed": 5, "ema_decay": 0.9, "schedule": "cosine", "warmup_steps": 1, "log_every": 1},
        "loss": {"weights": {"l1": 1.0, "hsv_mse": 0.1}},
        "gan": {"enabled": True, "kwargs": {"base": 8, "layers": 2}},
        "stages": [{"name": "warmup", "steps": 1, "weights": warmup},
                   {"name": "joint", "steps": 2, "weights": joint, "frozen": ["nir2gray"]}],
    })
    train, val = TinyPairs(n=4, size=40, crop=32), TinyPairs(n=1, size=32, seed=1)
    return Trainer(cfg, tmp_path / "coop", device="cpu", train_set=train, val_set=val, progress=False).fit()


@pytest.mark.parametrize("kind", ["supervised", "cooperative"])
def test_trained_weights_are_bit_identical_to_before_the_redesign(tmp_path, kind):
    if torch.__version__ != RECORDED_TORCH or torch.get_num_threads() != 1:
        pytest.skip(f"digests recorded with torch {RECORDED_TORCH} on one thread; this is torch "
                    f"{torch.__version__} on {torch.get_num_threads()}")
    res = {"supervised": _supervised, "cooperative": _cooperative}[kind](tmp_path)
    digest = _digest(res.last)
    if os.environ.get("CROSSSPEC_PRINT_DIGESTS"):
        print(f"\n{kind}: {digest}")
    assert digest == EXPECTED[kind]
