"""tools/rs_error_budget.py: its oracles do what they claim, and it runs on a scene manifest."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from tests.data.rs_fixtures import write_manifest


@pytest.fixture(scope="module")
def tool():
    return importlib.import_module("rs_error_budget")


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0.2, 0.6, (3, 12, 10)).astype(np.float32)
    valid = np.ones((12, 10), bool)
    valid[:3, :4] = False
    return pred, valid


def test_mean_matched_moves_each_channel_mean_to_the_truth(tool):
    pred, valid = _pair()
    truth = np.clip(pred + np.array([0.1, -0.05, 0.2], np.float32)[:, None, None]
                    + np.random.default_rng(1).normal(0, 0.02, pred.shape).astype(np.float32), 0, 1)
    truth[:, ~valid] = 1.0  # nodata must not move the fit
    out = tool.mean_matched(pred, truth, valid)
    for c in range(3):
        assert out[c][valid].mean() == pytest.approx(truth[c][valid].mean(), abs=1e-5)
    # structure is untouched: only a constant per channel changed
    assert np.allclose((out - pred)[:, valid].std(axis=1), 0, atol=1e-6)


def test_affine_matched_recovers_a_per_channel_tone_curve(tool):
    pred, valid = _pair()
    a, b = np.array([0.5, 1.2, 0.8]), np.array([0.1, -0.1, 0.3])
    truth = (a[:, None, None] * pred + b[:, None, None]).astype(np.float32)
    truth[:, ~valid] = 0.0
    out = tool.affine_matched(pred, truth, valid)
    assert np.allclose(out[:, valid], truth[:, valid], atol=1e-5)
    assert tool.psnr(out, truth, valid) > 50 > tool.psnr(pred, truth, valid)


def test_runs_on_a_manifest_and_orders_the_three_scores(tool, tmp_path, capsys):
    write_manifest(tmp_path)
    assert tool.main(["--data", str(tmp_path), "--rasters", str(tmp_path / "scenes.yaml"), "--model", "nir-gray",
                      "--pixel-step", "2"]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("| rgbn |"))
    cells = row.split("|")[2:4]  # nir-gain, nir-gray
    assert len(cells) == 2
    for cell in cells:
        as_is, mean_m, affine_m = (float(v) for v in cell.split("/"))
        # the affine oracle contains the identity and the mean shift (up to 8-bit rounding and clipping)
        assert affine_m >= max(as_is, mean_m) - 0.05
    assert "leave-one-scene-out" in text and "| `c * nir + d` | same group |" in text
