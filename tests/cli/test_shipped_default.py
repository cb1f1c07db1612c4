"""The out-of-the-box path: `crossspec colorize INPUT -o OUT` with the weights shipped in the package."""
from pathlib import Path

import numpy as np
import rasterio
from click.testing import CliRunner

from crossspec.cli import main
from crossspec.io.image import read_image, save_image
from crossspec.models import default_pretrained

SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "samples" / "naip-sherando-nir.tif"


def test_a_default_nir_model_ships():
    assert default_pretrained("nir") is not None


def test_colorize_a_png_with_the_shipped_default(tmp_path):
    x = np.linspace(0, 255, 64 * 48).reshape(48, 64).astype(np.uint8)
    save_image(tmp_path / "night.png", x)
    res = CliRunner().invoke(main, ["colorize", str(tmp_path / "night.png"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert f"using the shipped nir model {default_pretrained('nir')}" in res.output
    rgb = read_image(tmp_path / "out" / "night.png")
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert not (rgb[..., 0] == rgb[..., 1]).all()  # colour, not a gray copy


def test_readme_sample_keeps_its_georeferencing(tmp_path):
    res = CliRunner().invoke(main, ["colorize", str(SAMPLE), "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    with rasterio.open(SAMPLE) as src, rasterio.open(tmp_path / SAMPLE.name) as out:
        assert out.count == 3 and out.crs == src.crs and out.transform == src.transform
