import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

import crossspec
from crossspec.cli import main
from crossspec.errors import ConfigError
from crossspec.inference import colorizer as colorizer_mod
from crossspec.io.image import read_image, save_image
from tests.inference.test_colorize_api import GAIN, Gain


def test_load_once_and_reuse(monkeypatch):
    import crossspec.inference.predict as predict

    calls = []
    real = predict.load_model
    monkeypatch.setattr(predict, "load_model", lambda *a, **k: calls.append(a) or real(*a, **k))
    col = crossspec.load_colorizer("nir-gain", device="cpu")
    x = np.random.default_rng(0).uniform(size=(20, 30)).astype(np.float32)
    first = col.colorize(x, tile=16, overlap=4)
    second = col.colorize(x, tile=16, overlap=4)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, second)
    # the one-shot API gives the same result
    np.testing.assert_array_equal(first, crossspec.colorize(x, model="nir-gain", tile=16, overlap=4, device="cpu"))


def test_path_in_array_out_and_file_out(tmp_path):
    img = (np.random.default_rng(1).uniform(size=(24, 32)) * 255).astype(np.uint8)
    src = tmp_path / "night.png"
    save_image(src, img)
    col = crossspec.load_colorizer(Gain(), device="cpu")
    rgb = col.colorize(src)
    np.testing.assert_allclose(rgb, (img / 255.0)[..., None] * GAIN, atol=1e-6)
    dst = col.colorize(src, out=tmp_path / "out" / "night.png")
    assert dst == tmp_path / "out" / "night.png"
    assert read_image(dst).shape == (24, 32, 3)
    with pytest.raises(Exception, match="exists"):
        col.colorize(src, out=dst)
    with pytest.raises(TypeError, match="not list"):
        col.colorize([1, 2])


def test_dataarray_keeps_georeferencing_and_nodata(tmp_path):
    rioxarray = pytest.importorskip("rioxarray")
    path = tmp_path / "nir.tif"
    data = (np.random.default_rng(2).uniform(size=(1, 20, 24)) * 200 + 10).astype(np.uint8)
    data[0, 0, 0] = 0
    profile = dict(driver="GTiff", width=24, height=20, count=1, dtype="uint8", crs="EPSG:32632", nodata=0,
                   transform=rasterio.transform.from_origin(600000, 5100000, 10, 10))
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    da = rioxarray.open_rasterio(path)
    out = crossspec.load_colorizer(Gain(), device="cpu").colorize(da)
    assert out.dims == ("band", "y", "x") and out.shape == (3, 20, 24)
    assert out.rio.crs.to_epsg() == 32632 and out.rio.transform() == da.rio.transform()
    np.testing.assert_array_equal(out.x.values, da.x.values)
    assert np.isnan(out.values[:, 0, 0]).all()
    np.testing.assert_allclose(out.values[:, 5, 7], data[0, 5, 7] / 255.0 * GAIN, atol=1e-6)
    with pytest.raises(ValueError, match="band=3 does not exist"):
        crossspec.load_colorizer(Gain(), device="cpu").colorize(da.isel(band=0), band=3)


def test_no_default_shipped_model_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("crossspec.models.registry.default_pretrained", lambda domain, imagery="photo": None)
    with pytest.raises(ConfigError, match="no default shipped nir model"):
        crossspec.load_colorizer()


def test_cli_without_model_uses_the_shipped_default_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(colorizer_mod, "default_model_name", lambda domain, imagery="photo": "nir-gain")
    save_image(tmp_path / "a.png", (np.arange(64, dtype=np.uint8).reshape(8, 8) * 3))
    res = CliRunner().invoke(main, ["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "using the shipped nir model nir-gain" in res.output
    assert (tmp_path / "out" / "a.png").is_file()


def test_work_scale_runs_the_model_smaller_and_returns_every_pixel():
    class Recording(Gain):
        def forward(self, x):
            sizes.append(tuple(x.shape[-2:]))
            return super().forward(x)

    sizes: list = []
    yy, xx = np.mgrid[0:48, 0:64]
    x = (0.2 + 0.6 * ((xx // 16 + yy // 16) % 2) + 0.05 * np.sin(xx / 3.0)).astype(np.float32)
    col = crossspec.load_colorizer(Recording(), device="cpu", work_scale=0.5)
    assert "work_scale=0.5" in repr(col)
    out = col.colorize(x, tile=64, overlap=0)
    assert out.shape == (48, 64, 3) and set(sizes) == {(24, 32)}
    # a colorizer that follows its input comes back at full resolution, edges included
    np.testing.assert_allclose(out, np.clip(x[..., None] * GAIN, 0, 1), atol=0.03)
    with pytest.raises(ConfigError, match="work scale below 1 with colour hints"):
        col._predictor(object())
    with pytest.raises(ConfigError, match=r"work scale must be in \(0, 1\]"):
        crossspec.load_colorizer(Gain(), device="cpu", work_scale=1.5)


def test_work_scale_cli_writes_full_size_and_refuses_hints(tmp_path):
    img = (np.random.default_rng(3).uniform(size=(40, 36)) * 255).astype(np.uint8)
    save_image(tmp_path / "n.png", img)
    res = CliRunner().invoke(main, ["colorize", str(tmp_path / "n.png"), "-o", str(tmp_path / "out"), "--model",
                                    "nir-gain", "--work-scale", "0.5"])
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "out" / "n.png").shape == (40, 36, 3)
    assert '"work_scale": 0.5' in (tmp_path / "out" / "n.png.crossspec.json").read_text()
    (tmp_path / "h.csv").write_text("x,y,r,g,b\n1,1,10,20,30\n")
    res = CliRunner().invoke(main, ["colorize", str(tmp_path / "n.png"), "-o", str(tmp_path / "o2"), "--model",
                                    "nir-gain", "--work-scale", "0.5", "--hints", str(tmp_path / "h.csv")])
    assert res.exit_code == 2 and "--hints and --work-scale" in res.output
    res = CliRunner().invoke(main, ["colorize", str(tmp_path / "n.png"), "-o", str(tmp_path / "o3"), "--work-scale", "0"])
    assert res.exit_code == 2 and "--work-scale" in res.output
