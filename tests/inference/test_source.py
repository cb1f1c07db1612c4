import hashlib

import numpy as np
import pytest

import crossspec
from crossspec.errors import ConfigError, DataError
from crossspec.inference.output_provenance import weights_sha256
from crossspec.inference.source import output_name
from crossspec.io.raster import Scaling
from tests.inference.raster_fixtures import smooth_band, write_raster


def test_api_reads_a_file_as_a_raster_whenever_a_raster_option_is_given(tmp_path):
    # --offset alone is a raster option too: the API used to drop it without a word.
    raw = smooth_band(20, 24, np.uint16) // 2 + 2000
    tif = write_raster(tmp_path / "plain16.tif", raw, crs=None, transform=None)
    out = crossspec.colorize(tif, model="nir-gray", offset=-1000, device="cpu")
    np.testing.assert_allclose(out[..., 0], (raw.astype(np.float32) - 1000) / 65535, atol=1e-6)


def test_api_refuses_non_finite_and_blanking_scaling(tmp_path):
    tif = write_raster(tmp_path / "geo.tif", smooth_band(20, 20))
    for bad in (dict(offset=float("nan")), dict(offset=float("inf")), dict(scale="range:0,1e999")):
        with pytest.raises(ConfigError, match="finite"):
            crossspec.colorize(tif, model="nir-gray", **bad)
    with pytest.raises(ConfigError, match="--offset"):
        Scaling("factor", factor=10000, offset=float("nan"))
    with pytest.raises(ConfigError, match=r"geo.tif: 100.0% of the valid pixels"):
        crossspec.colorize(tif, model="nir-gray", scale="10000", offset=-1000)
    out = crossspec.colorize(tif, model="nir-gray", scale="10000", offset=-1000, allow_clipping=True)
    assert (out == 0).all()


def test_api_band_out_of_range_names_file_and_count(tmp_path):
    tif = write_raster(tmp_path / "two.tif", np.stack([smooth_band(8, 8)] * 2))
    with pytest.raises(DataError, match=r"two.tif: band 3 does not exist \(the raster has bands 1..2\)"):
        crossspec.colorize(tif, model="nir-gray", band=3)


@pytest.mark.parametrize("path, name", [
    ("/vsizip/a/b.zip/inner/scene.tif", "scene.tif"),
    ("/vsicurl/https://example.org/data/B08.jp2?token=x", "B08.tif"),
    ('HDF5:"f.h5"://grp/nir', "nir.tif"),
    ('NETCDF:"f.nc":reflectance', "reflectance.tif"),
    ("folder/photo.png", "photo.tif"),
])
def test_outputs_of_gdal_paths_are_named_by_the_last_component(path, name):
    assert output_name(path, "raster") == name


def test_weights_hash_of_a_checkpoint_is_the_file_hash(tmp_path):
    from crossspec.models import create_model
    from crossspec.models import load_model, save_weights

    path = save_weights(tmp_path / "w.safetensors", create_model("unet", base=8, depth=3))
    net = load_model(path)
    assert weights_sha256(net) == hashlib.sha256(path.read_bytes()).hexdigest()
    # registered models hash their state dict: different weights, different hash
    a, b = create_model("unet", base=8, depth=3), create_model("unet", base=8, depth=3)
    b.load_state_dict(a.state_dict())
    assert weights_sha256(a) == weights_sha256(b)
    next(b.parameters()).data.add_(1)
    assert weights_sha256(a) != weights_sha256(b)
