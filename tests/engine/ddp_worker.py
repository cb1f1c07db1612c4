"""Run by tests/engine/test_distributed.py, under torchrun or alone: a few steps of tiny training."""
import sys

from crossspec.config import from_dict
from crossspec.engine import distributed
from crossspec.engine.trainer import Trainer
from tests.engine.tiny_data import TinyPairs

if __name__ == "__main__":
    cfg = from_dict({
        "model": {"name": "unet", "kwargs": {"base": 8, "depth": 3}},
        "data": {"crop": 8, "batch_size": 4},
        "train": {"steps": 4, "lr": 1e-3, "seed": 5, "ema_decay": 0.9, "log_every": 1, "ckpt_every": 2},
        "loss": {"weights": {"l1": 1.0, "mse": 1.0}},
    })
    try:
        Trainer(cfg, sys.argv[1], device="cpu", train_set=TinyPairs(n=8, size=16, crop=8),
                val_set=TinyPairs(n=2, size=16, seed=1), progress=False).fit()
    finally:
        distributed.teardown()
