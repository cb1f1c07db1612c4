"""Without --model, `colorize` takes the shipped overhead model for rasters with a CRS and the
photo model for everything else (and the photo model when no overhead model ships)."""
import numpy as np
import rasterio
from click.testing import CliRunner
from rasterio.transform import Affine
from tests.models.test_pretrained import ship

from crossspec.cli import main
from crossspec.inference.colorizer import colorize
from crossspec.io.image import save_image


def _geotiff(path, crs="EPSG:32633"):
    x = np.linspace(0, 255, 32 * 40).reshape(32, 40).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=40, height=32, count=1, dtype="uint8", crs=crs,
                       transform=Affine(10, 0, 500000, 0, -10, 4000000)) as dst:
        dst.write(x, 1)
    return path


def _run(*args):
    return CliRunner().invoke(main, ["colorize", *map(str, args)])


def test_rasters_with_a_crs_get_the_overhead_model(weights_dir, tmp_path):
    ship(weights_dir, name="a-photo", default=True, seed=1)
    ship(weights_dir, name="b-rs", default=True, seed=2, edit={"imagery": "overhead"})
    scene = _geotiff(tmp_path / "scene.tif")
    res = _run(scene, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "using the shipped nir model for overhead imagery b-rs" in res.output
    with rasterio.open(tmp_path / "out" / "scene.tif") as out:
        assert out.tags()["crossspec_model"] == "b-rs"  # the output records the model that made it

    save_image(tmp_path / "night.png", np.full((24, 24), 90, np.uint8))
    res = _run(tmp_path / "night.png", "-o", tmp_path / "out2")
    assert res.exit_code == 0 and "using the shipped nir model a-photo" in res.output
    # a mix of photos and map rasters takes the photo default: one model serves one command
    res = _run(tmp_path / "night.png", scene, "-o", tmp_path / "out3")
    assert res.exit_code == 0 and "using the shipped nir model a-photo" in res.output
    # an explicit --model always wins
    res = _run(scene, "-o", tmp_path / "out4", "--model", "a-photo")
    assert res.exit_code == 0 and "using the shipped" not in res.output

    via_api = colorize(scene, device="cpu")
    by_name = colorize(scene, model="b-rs", device="cpu")
    assert np.array_equal(via_api, by_name) and not np.array_equal(via_api, colorize(scene, model="a-photo",
                                                                                     device="cpu"))


def test_without_an_overhead_model_rasters_get_the_photo_default(weights_dir, tmp_path):
    ship(weights_dir, name="a-photo", default=True)
    res = _run(_geotiff(tmp_path / "scene.tif"), "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "using the shipped nir model a-photo" in res.output
