import numpy as np
import pytest
import rasterio
import torch
import torch.nn as nn
from click.testing import CliRunner
from PIL import Image

import crossspec
from crossspec.cli import main
from crossspec.errors import ConfigError, CrossspecError
from crossspec.evaluation import run_eval
from crossspec.inference.predict import make_predictor
from crossspec.tta import with_tta
from tests.inference.raster_fixtures import smooth_band, write_raster


class LeftToRight(nn.Module):
    """A running mean along the width: its output for a mirrored image is not the mirrored output."""

    size_multiple = 8

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape[-2:]))
        run = x.cumsum(-1) / torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
        return torch.cat([x, run, x * 0.5], 1)


def test_hflip_is_the_mean_of_the_prediction_and_the_mirrored_one():
    model = LeftToRight()
    x = torch.rand(2, 1, 5, 9, dtype=torch.float64)
    expected = (model(x) + model(x.flip(-1)).flip(-1)) / 2
    got = with_tta(model, "hflip")(x)
    torch.testing.assert_close(got, expected.float())
    assert not torch.allclose(got, model(x).float()), "the model must see the mirror for this test to mean anything"
    assert with_tta(model, "none") is model


def test_bad_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="--tta: 'vflip' is not one of none, hflip"):
        with_tta(nn.Identity(), "vflip")


def test_predictor_mirrors_before_padding():
    # Padding goes on the bottom/right of the image the model sees; were the padded tile mirrored,
    # the crop back to the tile would keep padding zeros on the left of the mirrored prediction.
    model = LeftToRight()
    tiles = np.random.default_rng(0).uniform(0.2, 1.0, size=(2, 13, 21)).astype(np.float32)
    out = make_predictor(model, device="cpu", tta="hflip")(tiles)
    assert model.shapes == [(16, 24), (16, 24)]
    np.testing.assert_allclose(out[:, 0], tiles, rtol=1e-6)
    np.testing.assert_allclose(out[:, 2], tiles * 0.5, rtol=1e-6)
    x = torch.from_numpy(tiles)[:, None]
    mean = (x.cumsum(-1) / torch.arange(1, 22) + (x.flip(-1).cumsum(-1) / torch.arange(1, 22)).flip(-1)) / 2
    np.testing.assert_allclose(out[:, 1], mean[:, 0].numpy(), rtol=1e-5)


def test_eval_records_tta_and_a_pointwise_model_is_unchanged(fake_vcip):
    plain = run_eval(model="nir-gain", root=str(fake_vcip), splits=["test-clean-20"], use_lpips=False)
    mirrored = run_eval(model="nir-gain", root=str(fake_vcip), splits=["test-clean-20"], use_lpips=False,
                        tta="hflip")
    assert plain.protocol["tta"] == "none" and mirrored.protocol["tta"] == "hflip"
    assert "test-time augmentation: hflip" in mirrored.format_table()
    assert "test-time augmentation" not in plain.format_table()
    assert mirrored.summary()["test-clean-20"]["psnr"] == pytest.approx(plain.summary()["test-clean-20"]["psnr"])


def test_tta_needs_a_model(fake_vcip, tmp_path):
    with pytest.raises(CrossspecError, match="--tta applies to a model"):
        run_eval(pred_dir=str(tmp_path), root=str(fake_vcip), splits=["test-28"], use_lpips=False, tta="hflip")


def test_cli_tta_option(fake_vcip):
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--split", "test-28",
                                    "--no-lpips", "--tta", "hflip"])
    assert res.exit_code == 0, res.output
    assert "test-time augmentation: hflip" in res.output
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--tta", "rot90"])
    assert res.exit_code == 2 and "rot90" in res.output


def test_colorize_api_and_cli_apply_tta(tmp_path):
    x = np.random.default_rng(1).uniform(0.1, 1.0, size=(20, 30)).astype(np.float32)
    plain = crossspec.colorize(x, model=LeftToRight(), tile=64, overlap=0, device="cpu")
    mirrored = crossspec.colorize(x, model=LeftToRight(), tile=64, overlap=0, device="cpu", tta="hflip")
    expected = make_predictor(LeftToRight(), device="cpu", tta="hflip")(x[None])[0].transpose(1, 2, 0)
    np.testing.assert_allclose(mirrored, expected, rtol=1e-6)
    assert np.abs(mirrored - plain).max() > 1e-2

    Image.fromarray((x * 255).astype(np.uint8)).save(tmp_path / "nir.png")
    res = CliRunner().invoke(main, ["-q", "colorize", str(tmp_path / "nir.png"), "-o", str(tmp_path / "out"),
                                    "--model", "nir-gray", "--tta", "hflip"])
    assert res.exit_code == 0, res.output
    out = np.asarray(Image.open(tmp_path / "out" / "nir.png"))
    np.testing.assert_array_equal(out[..., 0], (x * 255).astype(np.uint8))  # a pointwise model is unchanged


def test_colorized_raster_records_tta(tmp_path):
    src = write_raster(tmp_path / "scene.tif", smooth_band(20, 20))
    res = CliRunner().invoke(main, ["-q", "colorize", str(src), "-o", str(tmp_path / "out"), "--model", "nir-gray",
                                    "--tta", "hflip"])
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "out" / "scene.tif") as ds:
        assert ds.tags()["crossspec_tta"] == "hflip"
