"""tools/gpu/vcip_session.py: every planned run is a valid config before a GPU lease is spent on it."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from crossspec.config import load_config
from crossspec.losses.composite import TERMS
from crossspec.models import create_model

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "gpu" / "vcip_session.py"


@pytest.fixture(scope="module")
def session():
    spec = importlib.util.spec_from_file_location("vcip_session", TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vcip_session"] = mod
    spec.loader.exec_module(mod)
    return mod


def _runs(session):
    for plan, (runs, _, tiny) in session.PLANS.items():
        assert all(0 <= i < len(runs) for i in tiny), plan
        for name, over, planned in runs:
            yield plan, name, over, planned


def test_every_planned_run_builds_with_its_overrides(session):
    seen = set()
    for plan, name, over, planned in _runs(session):
        assert (plan, name) not in seen, f"{plan}: run {name} listed twice"
        seen.add((plan, name))
        extra = ["train.minutes=5"] if planned else []
        cfg = load_config(ROOT / session.UNET, over + extra + ["train.max_minutes=5.5", "train.ckpt_every=1000"])
        assert set(cfg.loss.weights) <= set(TERMS), (plan, name)
        create_model(cfg.model.name, **cfg.model.kwargs)  # a misspelt model kwarg fails here, not on the GPU


def test_tiny_overrides_apply_to_every_plan(session):
    for plan, name, over, _ in _runs(session):
        cfg = load_config(ROOT / session.UNET, over + session.TINY)
        assert cfg.train.steps == 40 and cfg.data.crop == 64, (plan, name)
