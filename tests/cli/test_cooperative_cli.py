"""The cooperative model and the gray domain through the CLI: train, eval and colorize both paths."""
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from crossspec.cli import main

REPO = Path(__file__).resolve().parents[2]
SHORT = ["data.dataset=demo", "data.train_split=train", "data.val_split=val", "data.crop=32", "data.batch_size=2",
         "data.val_limit=4", "model.kwargs={tiny: true}", "stages.warmup.steps=2", "stages.joint.steps=2",
         "train.steps=4", "train.val_every=0", "train.ckpt_every=0", "train.warmup_steps=1"]


@pytest.fixture(scope="module")
def coop_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("coop") / "run"
    r = CliRunner().invoke(main, ["-q", "train", "--domain", "nir", "--config", str(REPO / "configs/nir/cooperative.yaml"),
                                  "--out", str(out), "--device", "cpu", *SHORT])
    assert r.exit_code == 0, r.output
    return out


def test_cooperative_checkpoint_evaluates_both_domains(coop_run, tmp_path):
    import json

    psnr = {}
    for domain in ("nir", "gray"):
        out = tmp_path / f"{domain}.json"
        r = CliRunner().invoke(main, ["eval", "--checkpoint", str(coop_run), "--dataset", "demo", "--split", "val",
                                      "--domain", domain, "--json", str(out)])
        assert r.exit_code == 0, r.output
        psnr[domain] = json.loads(out.read_text())["splits"]["val"]["psnr"]
    assert psnr["nir"] != psnr["gray"]


def test_cooperative_checkpoint_colorizes_gray_images(coop_run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 52), dtype=np.uint8)).save(src / "g.png")
    for domain in ("gray", "nir"):
        r = CliRunner().invoke(main, ["colorize", str(src / "g.png"), "-o", str(tmp_path / domain), "--checkpoint",
                                      str(coop_run), "--domain", domain, "--device", "cpu"])
        assert r.exit_code == 0, r.output
    a = np.asarray(Image.open(tmp_path / "gray" / "g.png"))
    b = np.asarray(Image.open(tmp_path / "nir" / "g.png"))
    assert a.shape == (40, 52, 3) and not np.array_equal(a, b)


def test_translator_is_not_a_colorizer(tmp_path):
    r = CliRunner().invoke(main, ["eval", "--model", "gray2nir", "--dataset", "demo", "--split", "val"])
    assert r.exit_code == 1 and "colorizes gray images, not 'nir'" in r.output


def test_unknown_stage_term_fails_before_training(tmp_path):
    r = CliRunner().invoke(main, ["train", "--domain", "nir", "--config", str(REPO / "configs/nir/cooperative.yaml"),
                                  "--out", str(tmp_path / "x"), *SHORT, "stages.joint.weights.cycel=1"])
    assert r.exit_code == 1 and "unknown loss term (did you mean 'cycle'?)" in r.output
    assert not (tmp_path / "x").exists()


def test_train_gray_from_a_folder_of_photos(tmp_path):
    rng = np.random.default_rng(1)
    photos = tmp_path / "photos"
    for i in range(16):
        d = photos / ("trip" if i % 2 else "home") / f"p{i:02d}"
        d.parent.mkdir(parents=True, exist_ok=True)
        h, w = 40 + i, 48 + 2 * i  # mixed sizes are fine as long as each holds the crop
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(f"{d}.{'png' if i % 3 else 'jpg'}")
    r = CliRunner().invoke(main, ["-q", "train", "--domain", "gray", "--config", str(REPO / "configs/gray/rgb-folder.yaml"),
                                  "--data", str(photos), "--out", str(tmp_path / "g"), "--device", "cpu",
                                  "data.kwargs.val_fraction=0.25", "data.crop=32", "data.batch_size=2",
                                  "model.kwargs={tiny: true}", "train.steps=2", "train.val_every=0"])
    assert r.exit_code == 0, r.output
    assert "validation (val," in r.output
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(photos / "tiny.png")
    r = CliRunner().invoke(main, ["train", "--domain", "gray", "--config", str(REPO / "configs/gray/rgb-folder.yaml"),
                                  "--data", str(photos), "--out", str(tmp_path / "g2"), "data.crop=32",
                                  "model.kwargs={tiny: true}", "train.steps=2", "data.kwargs.val_fraction=0.25"])
    assert r.exit_code == 1 and "tiny.png" in r.output and "smaller than data.crop=32" in r.output
