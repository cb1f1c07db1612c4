
import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp

from tests.inference.raster_fixtures import CRS_UTM, TRANSFORM, smooth_band, write_raster

from crossspec.errors import ConfigError, CrossspecError, DataError  # noqa: E402
from crossspec.io.raster import (  # noqa: E402
    RasterBand,
    RasterWriter,
    Scaling,
    check_band,
    is_georeferenced_raster,
    open_raster,
    output_profile,
)


# --------------------------------------------------------------------------------------- scaling
@pytest.mark.parametrize(
    "text, expected",
    [
        (None, Scaling("dtype")),
        ("10000", Scaling("factor", factor=10000.0)),
        ("minmax", Scaling("minmax")),
        ("percentile:2,98", Scaling("percentile", lo=2.0, hi=98.0)),
        ("range:0,255", Scaling("range", lo=0.0, hi=255.0)),
    ],
)
def test_scaling_parse(text, expected):
    assert Scaling.parse(text) == expected


@pytest.mark.parametrize("text", ["abc", "range:5,1", "percentile:-1,50", "percentile:2", "-3", "0"])
def test_scaling_parse_rejects(text):
    with pytest.raises(ConfigError, match="--scale"):
        Scaling.parse(text)


def _band(tmp_path, data, scaling="dtype", nodata=None, offset=0.0, file_nodata=None, band=None):
    path = write_raster(tmp_path / "in.tif", data, nodata=file_nodata)
    ds = open_raster(path)
    return ds, RasterBand(ds, band, Scaling.parse(scaling, offset), nodata)


def test_default_scaling_by_dtype(tmp_path):
    data = np.array([[0, 255], [51, 102]], np.uint8)
    ds, src = _band(tmp_path, data)
    with ds:
        out, valid = src.read()
    np.testing.assert_allclose(out, data / 255.0, rtol=1e-6)
    assert valid.all()
    data16 = np.array([[0, 65535], [1000, 30000]], np.uint16)
    ds, src = _band(tmp_path, data16)
    with ds:
        np.testing.assert_allclose(src.read()[0], data16 / 65535.0, rtol=1e-6)


def test_float_without_scale_asks_for_it(tmp_path):
    data = np.full((4, 4), 0.5, np.float32)
    with pytest.raises(ConfigError, match=r"in\.tif: band 1 is float32; .*--scale"):
        _band(tmp_path, data)


def test_reflectance_factor_with_offset(tmp_path):
    # Sentinel-2 L2A digital numbers carry +1000: reflectance = (DN - 1000) / 10000.
    data = np.array([[1000, 3000], [11000, 500]], np.uint16)
    ds, src = _band(tmp_path, data, "10000", offset=-1000)
    with ds:
        out, _ = src.read()
    np.testing.assert_allclose(out, [[0.0, 0.2], [1.0, 0.0]], atol=1e-6)


def test_fixed_range(tmp_path):
    data = np.array([[10, 20], [30, 40]], np.float32)
    ds, src = _band(tmp_path, data, "range:10,30")
    with ds:
        np.testing.assert_allclose(src.read()[0], [[0, 0.5], [1, 1]], atol=1e-6)


@pytest.mark.parametrize("scaling", ["minmax", "percentile:0,100"])
def test_statistics_ignore_nodata(tmp_path, scaling):
    data = np.full((64, 64), -9999.0, np.float32)
    data[16:48, 16:48] = np.linspace(100, 200, 32 * 32, dtype=np.float32).reshape(32, 32)
    ds, src = _band(tmp_path, data, scaling, file_nodata=-9999.0)
    with ds:
        out, valid = src.read()
    assert valid.sum() == 32 * 32
    assert out[valid].min() == pytest.approx(0.0, abs=1e-6)
    assert out[valid].max() == pytest.approx(1.0, abs=1e-6)
    assert (out[~valid] == 0).all()


def test_nodata_override_and_nan(tmp_path):
    data = np.array([[5, 7], [np.nan, 9]], np.float32)
    ds, src = _band(tmp_path, data, "range:0,10", nodata=7)
    with ds:
        _, valid = src.read()
    assert valid.tolist() == [[True, False], [False, True]]


def test_percentile_stats_on_large_raster_are_decimated(tmp_path):
    data = smooth_band(1200, 1100, np.uint16)
    ds, src = _band(tmp_path, data, "percentile:2,98")
    with ds:
        sample = src.sample_valid(max_pixels=10_000)
        assert 5_000 < sample.size <= 10_000
        lo, hi = np.percentile(data, [2, 98])
        # The map sends the true 2nd/98th percentiles close to 0 and 1 even from a sample.
        assert src.map.apply(np.array([lo, hi])) == pytest.approx([0, 1], abs=0.02)


def test_all_nodata_statistics_fail(tmp_path):
    data = np.full((8, 8), -1.0, np.float32)
    with pytest.raises(DataError, match="no valid pixels"):
        _band(tmp_path, data, "minmax", file_nodata=-1.0)


# ------------------------------------------------------------------------------------ opening
def test_open_errors(tmp_path):
    with pytest.raises(DataError, match="missing.tif: no such file"):
        open_raster(tmp_path / "missing.tif")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(DataError, match="empty.tif: is empty"):
        open_raster(tmp_path / "empty.tif")
    (tmp_path / "corrupt.tif").write_bytes(b"II*\x00garbage" * 10)
    with pytest.raises(DataError, match="corrupt.tif: cannot be read as a raster"):
        open_raster(tmp_path / "corrupt.tif")
    write_raster(tmp_path / "one.tif", np.zeros((1, 1), np.uint8))
    with pytest.raises(DataError, match="one.tif: is 1x1 pixels"):
        open_raster(tmp_path / "one.tif")


def test_band_selection_is_one_based(tmp_path):
    data = np.stack([np.full((4, 4), v, np.uint8) for v in (10, 20, 30)])
    path = write_raster(tmp_path / "multi.tif", data)
    with open_raster(path) as ds:
        assert check_band(ds, 3) == 3
        with pytest.raises(DataError, match=r"band 4 does not exist \(the raster has bands 1..3\)"):
            check_band(ds, 4)
        with pytest.raises(DataError, match="has 3 bands; choose .* -b/--band"):
            check_band(ds, None)
        out, _ = RasterBand(ds, 2, Scaling()).read()
    np.testing.assert_allclose(out, 20 / 255, rtol=1e-6)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_is_georeferenced_raster(tmp_path):
    assert is_georeferenced_raster(write_raster(tmp_path / "geo.tif", np.zeros((4, 4), np.uint8)))
    assert not is_georeferenced_raster(write_raster(tmp_path / "plain.tif", np.zeros((4, 4), np.uint8), crs=None,
                                                    transform=rasterio.Affine.identity()))
    assert is_georeferenced_raster(write_raster(tmp_path / "bands.tif", np.zeros((5, 4, 4), np.uint8), crs=None,
                                                transform=rasterio.Affine.identity()))
    (tmp_path / "x.png").write_bytes(b"not a png")
    assert not is_georeferenced_raster(tmp_path / "x.png")


# ------------------------------------------------------------------------------------- output
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_writer_round_trip_keeps_georeferencing(tmp_path, dtype):
    src_path = write_raster(tmp_path / "src.tif", smooth_band(40, 50), nodata=0,
                            tags={"SENSOR": "test", "DATE": "2024-01-01"},
                            tiled=True, blockxsize=16, blockysize=16)
    rgb = np.random.default_rng(0).uniform(0, 1, (3, 40, 50)).astype(np.float32)
    valid = np.ones((40, 50), bool)
    valid[:5, :7] = False
    with open_raster(src_path) as ds, RasterWriter(tmp_path / "out.tif", ds, dtype, masked=True) as w:
        assert w.block_height == 16
        w.write(rgb[:, :16], valid[:16], 0)
        w.write(rgb[:, 16:], valid[16:], 16)
    with rasterio.open(tmp_path / "out.tif") as out:
        assert out.crs == CRS_UTM and out.transform == TRANSFORM
        assert out.count == 3 and out.dtypes[0] == dtype
        assert out.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
        assert out.tags()["SENSOR"] == "test" and out.tags()["DATE"] == "2024-01-01"
        assert out.block_shapes[0] == (16, 16) and out.profile["tiled"]
        back = out.read(masked=True)
        assert (back.mask[0] == ~valid).all()
        top = {"uint8": 255, "uint16": 65535, "float32": 1.0}[dtype]
        np.testing.assert_allclose(back.data[:, valid] / top, rgb[:, valid], atol=1 / top if top > 1 else 1e-7)


def test_output_profile_blocks_for_striped_source(tmp_path):
    path = write_raster(tmp_path / "s.tif", np.zeros((30, 30), np.uint8))
    with open_raster(path) as ds:
        prof = output_profile(ds, "uint8")
    assert prof["tiled"] and prof["blockxsize"] == prof["blockysize"] == 256
    with pytest.raises(ConfigError, match="--dtype"):
        with open_raster(path) as ds:
            output_profile(ds, "int8")


def test_errors_are_crossspec_errors():
    assert issubclass(DataError, CrossspecError)
