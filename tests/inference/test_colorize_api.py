import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import rasterio
import torch.nn as nn

import crossspec
from crossspec.errors import DataError
from crossspec.inference.colorize import colorize_raster_file
from crossspec.inference.predict import make_predictor
from crossspec.io.atomic import TMP_MARKER
from crossspec.io.raster import RasterWriter, Scaling
from tests.inference.raster_fixtures import smooth_band, write_raster


class Gain(nn.Module):
    """Per-channel gain (0.9, 0.6, 0.3): a pixel-wise colorizer whose output is known exactly."""

    size_multiple = 1

    def forward(self, x):
        return x.repeat(1, 3, 1, 1) * x.new_tensor([0.9, 0.6, 0.3]).view(1, 3, 1, 1)


GAIN = np.array([0.9, 0.6, 0.3], np.float32)


def test_colorize_array_api_and_nan_nodata():
    x = np.random.default_rng(0).uniform(size=(40, 50)).astype(np.float32)
    x[3, 4] = np.nan
    out = crossspec.colorize(x, model=Gain(), tile=16, overlap=8, device="cpu")
    assert out.shape == (40, 50, 3) and out.dtype == np.float32
    assert np.isnan(out[3, 4]).all()
    ok = ~np.isnan(x)
    np.testing.assert_allclose(out[ok], x[ok][:, None] * GAIN, atol=1e-6)


def test_colorize_registered_model_uint8():
    x = (np.arange(64 * 64) % 256).astype(np.uint8).reshape(64, 64)
    out = crossspec.colorize(x, model="nir-gray", device="cpu")
    np.testing.assert_allclose(out, np.repeat((x / 255.0)[..., None], 3, -1), atol=1e-6)


def test_colorize_array_rejects_bad_input():
    with pytest.raises(DataError, match="array: has 4 channels"):
        crossspec.colorize(np.zeros((8, 8, 4), np.uint8), model=Gain())
    with pytest.raises(DataError, match="array: is 1x1 pixels"):
        crossspec.colorize(np.zeros((1, 1), np.uint8), model=Gain())
    with pytest.raises(DataError, match=r"float values span \[0, 3\]"):
        crossspec.colorize(np.array([[0, 3], [1, 1]], np.float32), model=Gain())


def test_colorize_raster_path_with_band_and_scale(tmp_path):
    nir = smooth_band(30, 40, np.uint16)
    path = write_raster(tmp_path / "s2.tif", np.stack([nir // 2, nir]), nodata=0)
    out = crossspec.colorize(path, model=Gain(), band=2, scale="10000", offset=-1000, device="cpu")
    expect = np.clip((nir.astype(np.float32) - 1000) / 10000, 0, 1)
    valid = nir != 0
    np.testing.assert_allclose(out[valid], expect[valid][:, None] * GAIN, atol=1e-6)
    assert np.isnan(out[~valid]).all()


def _with_nodata_hole(h=70, w=90):
    data = smooth_band(h, w, np.uint16, seed=1)
    data[data == 0] = 1
    data[10:20, 30:60] = 0
    return data


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_raster_file_keeps_georeferencing_and_nodata(tmp_path, dtype):
    data = _with_nodata_hole()
    src = write_raster(tmp_path / "in.tif", data, nodata=0, tags={"MISSION": "test"})
    dst = colorize_raster_file(src, tmp_path / "out" / "in.tif", make_predictor(Gain()), dtype=dtype,
                               scaling=Scaling.parse("range:0,65535"), tile=32, overlap=16)
    with rasterio.open(src) as a, rasterio.open(dst) as b:
        assert b.crs == a.crs and b.transform == a.transform and b.shape == a.shape
        assert b.tags()["MISSION"] == "test"
        rgb = b.read(masked=True)
    hole = data == 0
    assert (rgb.mask[:, hole]).all() and not rgb.mask[:, ~hole].any()
    expect = (data[~hole] / 65535.0)[:, None] * GAIN
    top = 255 if dtype == "uint8" else 1
    np.testing.assert_allclose(rgb.data[:, ~hole].T / top, expect, atol=0.5 / 255 + 1e-6)
    assert not list((tmp_path / "out").glob(f"*{TMP_MARKER}*"))


def test_cog_output(tmp_path):
    src = write_raster(tmp_path / "in.tif", smooth_band(600, 520))
    dst = colorize_raster_file(src, tmp_path / "cog.tif", make_predictor(Gain()), cog=True, tile=256, overlap=32)
    with rasterio.open(dst) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.overviews(1) and ds.count == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cog.tif", "in.tif"]


def test_refuses_to_overwrite(tmp_path):
    src = write_raster(tmp_path / "in.tif", smooth_band(20, 20))
    dst = tmp_path / "out.tif"
    dst.write_bytes(b"precious")
    with pytest.raises(DataError, match="out.tif: exists already"):
        colorize_raster_file(src, dst, make_predictor(Gain()))
    assert dst.read_bytes() == b"precious"
    colorize_raster_file(src, dst, make_predictor(Gain()), overwrite=True)
    with rasterio.open(dst) as ds:
        assert ds.count == 3


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    src = write_raster(tmp_path / "in.tif", smooth_band(700, 64))
    calls = []
    original = RasterWriter.write

    def failing(self, rgb, valid, row_off, col_off=0):
        calls.append(row_off)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")
        return original(self, rgb, valid, row_off, col_off)

    monkeypatch.setattr(RasterWriter, "write", failing)
    out_dir = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        colorize_raster_file(src, out_dir / "in.tif", make_predictor(Gain()), tile=64, overlap=16, cog=True)
    assert len(calls) == 2
    assert list(out_dir.iterdir()) == []


def test_all_nodata_raster_is_refused(tmp_path):
    src = write_raster(tmp_path / "empty_scene.tif", np.zeros((16, 16), np.uint8), nodata=0)
    with pytest.raises(DataError, match="empty_scene.tif: band 1 has no valid pixels"):
        colorize_raster_file(src, tmp_path / "o.tif", make_predictor(Gain()))
    assert not (tmp_path / "o.tif").exists()


def _peak_numpy_bytes(tmp_path, height: int) -> int:
    src = write_raster(tmp_path / f"tall{height}.tif", smooth_band(height, 256), tiled=True,
                       blockxsize=64, blockysize=64)
    tracemalloc.start()
    try:
        colorize_raster_file(src, tmp_path / f"o{height}.tif", make_predictor(Gain()), tile=64, overlap=16)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_raster_height(tmp_path):
    # NumPy allocations are traced by tracemalloc; GDAL's block cache is capped by the writer.
    small = _peak_numpy_bytes(tmp_path, 512)
    large = _peak_numpy_bytes(tmp_path, 4096)  # 8x the pixels
    assert large < 1.3 * small, (small, large)
    assert large < 4096 * 256 * 4  # well under one float32 copy of the whole band


def test_lazy_export_keeps_import_light():
    code = textwrap.dedent("""
        import sys, crossspec
        assert 'torch' not in sys.modules and 'rasterio' not in sys.modules
        assert callable(crossspec.colorize) and 'torch' in sys.modules
        print(crossspec.__version__)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_wide_raster_in_column_strips_matches_whole_image(tmp_path):
    import torch

    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 3, 3, padding=1), nn.Sigmoid()).eval()
    conv.size_multiple = 1
    data = smooth_band(40, 2600)
    src = write_raster(tmp_path / "wide.tif", data, tiled=True, blockxsize=256, blockysize=256)
    dst = colorize_raster_file(src, tmp_path / "o.tif", make_predictor(conv), dtype="float32", tile=64, overlap=16)
    with torch.no_grad():
        whole = conv(torch.from_numpy(data / np.float32(255))[None, None])[0].numpy()
    with rasterio.open(dst) as ds:
        np.testing.assert_allclose(ds.read(), whole, atol=2e-6)


def test_memory_does_not_grow_with_raster_width(tmp_path):
    def peak(width):
        src = write_raster(tmp_path / f"w{width}.tif", smooth_band(128, width), tiled=True, blockxsize=256,
                           blockysize=256)
        tracemalloc.start()
        try:
            colorize_raster_file(src, tmp_path / f"o{width}.tif", make_predictor(Gain()), tile=64, overlap=16)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1024), peak(4096)
    assert large < 1.3 * small, (small, large)
