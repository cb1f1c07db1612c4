import json

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from crossspec.cli import main
from crossspec.data.scenes import load_manifest, parse_scene
from crossspec.errors import ConfigError
from crossspec.models import create_model, model_info
from crossspec.raster_eval import evaluate_rasters, fit_gain, load_scenes
from tests.data.rs_fixtures import H, W, make_scenes, write_manifest
from tests.inference.raster_fixtures import smooth_band, write_raster


def _gray_scene(root, garbage_where_nodata=True):
    """R = G = B = NIR (so nir-gray is perfect) with nodata 0 on the left; garbage RGB under nodata."""
    nir = np.maximum(smooth_band(H, W, np.uint8, seed=5), 1)
    bands = np.stack([nir, nir, nir, nir])
    bands[3, :, :16] = 0  # declared nodata in the NIR band
    if garbage_where_nodata:
        bands[:3, :, :16] = np.random.default_rng(0).integers(1, 255, (3, H, 16))
    write_raster(root / "gray.tif", bands, nodata=0)
    return parse_scene({"name": "gray", "split": "test", "preset": "aerial-8bit", "file": "gray.tif",
                        "bands": {"red": 1, "green": 2, "blue": 3, "nir": 4}}, root)


def test_scores_use_valid_pixels_only(tmp_path):
    scene = _gray_scene(tmp_path)
    report = evaluate_rasters([scene], create_model("nir-gray"))
    vals = report.images["gray"].values
    # prediction == target on every valid pixel (only 8-bit rounding): garbage under nodata is ignored
    assert vals["psnr"] > 50 and vals["ae"] < 0.5 and vals["ssim"] > 0.999
    assert vals["valid_fraction"] == pytest.approx((W - 16) / W)
    summary = report.summary()
    assert list(summary) == ["gray", "mean (test, 1 rasters)"] and summary["gray"]["n"] == 1


def test_mean_row_and_fit_gain_uses_training_scenes_only(tmp_path):
    write_manifest(tmp_path)
    scenes = load_manifest(tmp_path / "scenes.yaml")
    net = fit_gain(scenes)
    assert model_info(net).kwargs["gain"] == pytest.approx(tuple(net.gain.tolist()), abs=1e-6)
    # the held-out scene does not move the fit
    again = fit_gain([s for s in scenes if s.split != "test"])
    assert torch.equal(net.gain, again.gain)
    test = load_scenes(tmp_path / "scenes.yaml", None, "test")
    assert [s.name for s in test] == ["rgbn"]
    report = evaluate_rasters(load_scenes(tmp_path / "scenes.yaml", None, "all"), net, split="all")
    rows = report.summary()
    assert set(rows) == {"s2", "floaty", "mean (all, 2 rasters)"}
    assert rows["mean (all, 2 rasters)"]["psnr"] == pytest.approx((rows["s2"]["psnr"] + rows["floaty"]["psnr"]) / 2)


def test_multiband_input_goes_through_the_colorize_path(tmp_path):
    write_manifest(tmp_path)
    scenes = [s for s in load_manifest(tmp_path / "scenes.yaml") if s.name == "s2"]
    net = create_model("unet", in_channels=2, base=4, depth=2)
    report = evaluate_rasters(scenes, net, bands="nir+swir", split="all", tile=32, overlap=8)
    assert np.isfinite(report.images["s2"].values["psnr"])
    with pytest.raises(ConfigError, match="model takes 2"):
        evaluate_rasters(scenes, net, bands="nir")


def test_cli_rasters_json_table_and_figures(tmp_path):
    write_manifest(tmp_path)
    out, figs = tmp_path / "scores.json", tmp_path / "figs"
    args = ["eval", "--model", "nir-gain", "--rasters", str(tmp_path / "scenes.yaml"), "--data", str(tmp_path),
            "--json", str(out), "--figure-dir", str(figs), "--threads", "1"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "rgbn" in res.output and "mean (test, 1 rasters)" in res.output and "protocol: rasters" in res.output
    doc = json.loads(out.read_text())
    assert set(doc["splits"]) == {"rgbn", "mean (test, 1 rasters)"} and len(doc["protocol"]["nir_gain"]) == 3
    from crossspec.io.image import read_image

    fig = read_image(figs / "rgbn.png")
    assert fig.shape == (H, 3 * W + 8, 3)
    assert (fig[:20, :24] == 0).all()  # nodata corner is black in the NIR panel
    res = CliRunner().invoke(main, args)  # never overwrite without --overwrite
    assert res.exit_code == 1 and "exists already" in res.output


def test_cli_fit_gain_then_checkpoint(tmp_path):
    write_manifest(tmp_path)
    gain = tmp_path / "gain.safetensors"
    res = CliRunner().invoke(main, ["data", "fit-gain", str(tmp_path / "scenes.yaml"), "-o", str(gain)])
    assert res.exit_code == 0, res.output and "nir-gain" in res.output
    res = CliRunner().invoke(main, ["eval", "--checkpoint", str(gain), "--rasters", str(tmp_path / "scenes.yaml"),
                                    "--split", "all"])
    assert res.exit_code == 0, res.output
    assert "mean (all, 2 rasters)" in res.output


def test_cli_folder_of_rasters_needs_a_preset(tmp_path):
    make_scenes(tmp_path)
    folder = tmp_path / "only"
    folder.mkdir()
    (tmp_path / "rgbn.tif").rename(folder / "rgbn.tif")
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--rasters", str(folder)])
    assert res.exit_code == 1 and "needs --preset" in res.output
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--rasters", str(folder), "--preset", "aerial-8bit"])
    assert res.exit_code == 0, res.output
    assert "mean (test, 1 rasters)" in res.output
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gain", "--rasters", str(folder), "--preset", "aerial-8bit"])
    assert res.exit_code == 2 and "fit-gain" in res.output


def test_trainer_trains_on_raster_pairs_and_checks_in_channels(tmp_path):
    from crossspec.config import load_config
    from crossspec.engine.trainer import Trainer

    write_manifest(tmp_path)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump({
        "domain": "nir", "model": {"name": "unet", "kwargs": {"in_channels": 1, "base": 4, "depth": 2}},
        "data": {"dataset": "raster-pairs", "root": str(tmp_path), "train_split": "train", "val_split": "val",
                 "kwargs": {"manifest": str(tmp_path / "scenes.yaml"), "window": 32, "length": 8, "eval_length": 2,
                            "split_mode": "block", "block": 48, "val_fraction": 0.4},
                 "crop": 32, "batch_size": 4},
        "train": {"steps": 2, "log_every": 1, "ema_decay": None, "preview_images": 1}}))
    result = Trainer(load_config(cfg_path), tmp_path / "run", device="cpu", progress=False).fit()
    assert result.step == 2 and np.isfinite(result.metrics["psnr"])
    bad = load_config(cfg_path, ["data.kwargs.input_bands=nir+swir"])
    with pytest.raises(ConfigError, match="in_channels: 2"):
        Trainer(bad, tmp_path / "run2", device="cpu", progress=False).fit()
