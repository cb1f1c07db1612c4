"""crossspec colorize --hints: the hints reach the model at their pixels, through tiles and strips."""
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from PIL import Image

import importlib

from crossspec.cli import main
from tests.inference import hint_echo
from tests.inference.raster_fixtures import TRANSFORM, write_raster


def _run(*args):
    return CliRunner().invoke(main, ["colorize", *map(str, args)])


def _red(rgb):
    """Pixels whose colour is clearly red (the echo model paints hints; elsewhere it is gray)."""
    rgb = rgb.astype(np.float64)
    return (rgb[..., 0] - rgb[..., 1] > 40) & (rgb[..., 0] - rgb[..., 2] > 40)


@pytest.fixture
def echo(monkeypatch):
    hint_echo.register(monkeypatch)
    return hint_echo.MODEL


def test_pixel_hints_colour_their_patch_with_and_without_tiling(tmp_path, echo):
    Image.fromarray(np.full((40, 50), 128, np.uint8)).save(tmp_path / "gray.png")
    hints = tmp_path / "h.csv"
    hints.write_text("x,y,r,g,b,size\n17,15,255,0,0,3\n49,39,255,0,0,1\n")
    outs = []
    for i, tiling in enumerate([("--tile", 16, "--overlap", 4), ("--tile", 512)]):
        res = _run(tmp_path / "gray.png", "-o", tmp_path / f"out{i}", "--model", echo, "--hints", hints, *tiling)
        assert res.exit_code == 0, res.output
        outs.append(np.asarray(Image.open(tmp_path / f"out{i}" / "gray.png")))
    expected = np.zeros((40, 50), bool)
    expected[14:17, 16:19] = True
    expected[39, 49] = True
    np.testing.assert_array_equal(_red(outs[0]), expected)  # tiles cut the hint map with the input's windows
    np.testing.assert_array_equal(outs[0], outs[1])


def test_map_hints_on_a_georeferenced_raster_across_column_strips(tmp_path, echo, monkeypatch):
    colorize_module = importlib.import_module("crossspec.inference.colorize")
    monkeypatch.setattr(colorize_module, "STRIP_WIDTH", 64)  # several column strips on a small raster
    write_raster(tmp_path / "scene.tif", np.full((40, 600), 120, np.uint8))
    east = lambda col: TRANSFORM.c + 10.0 * (col + 0.5)  # noqa: E731  pixel centre
    north = lambda row: TRANSFORM.f - 10.0 * (row + 0.5)  # noqa: E731
    hints = tmp_path / "h.csv"
    hints.write_text("east,north,r,g,b,size\n" + "".join(f"{east(c)},{north(r)},255,0,0,1\n"
                                                         for r, c in [(5, 10), (20, 300), (39, 530)]))
    res = _run(tmp_path / "scene.tif", "-o", tmp_path / "out", "--model", echo, "--hints", hints,
               "--tile", 64, "--overlap", 8)
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "out" / "scene.tif") as ds:
        rgb = np.moveaxis(ds.read(), 0, -1)
        assert "hints" in ds.tags()["crossspec_provenance"]
    assert sorted(zip(*np.nonzero(_red(rgb)))) == [(5, 10), (20, 300), (39, 530)]


def test_hints_are_refused_clearly(tmp_path, echo):
    Image.fromarray(np.full((20, 20), 128, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((20, 20), 128, np.uint8)).save(tmp_path / "b.png")
    good = tmp_path / "h.csv"
    good.write_text("x,y,r,g,b\n3,3,255,0,0\n")
    res = _run(tmp_path / "a.png", "-o", tmp_path / "o1", "--model", "nir-gray", "--hints", good)
    assert res.exit_code == 1 and "model 'nir-gray' takes no colour hints" in res.output and echo in res.output
    res = _run(tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "o2", "--model", echo, "--hints", good)
    assert res.exit_code == 1 and "2 inputs were given" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,r,g,b\n3,3,255,0,0\n3,3,255,0,-1\n")
    res = _run(tmp_path / "a.png", "-o", tmp_path / "o3", "--model", echo, "--hints", bad)
    assert res.exit_code == 1 and f"{bad}: line 3: colour b = -1 is outside 0-255" in res.output
    mapped = tmp_path / "map.csv"
    mapped.write_text("east,north,r,g,b\n500000,4600000,255,0,0\n")
    res = _run(tmp_path / "a.png", "-o", tmp_path / "o4", "--model", echo, "--hints", mapped)
    assert res.exit_code == 1 and f"{mapped}: line 2: east,north are map coordinates" in res.output
    outside = tmp_path / "outside.csv"
    outside.write_text("x,y,r,g,b\n20,3,255,0,0\n")
    res = _run(tmp_path / "a.png", "-o", tmp_path / "o5", "--model", echo, "--hints", outside)
    assert res.exit_code == 1 and f"{outside}: line 2: x = 20, y = 3 lies outside the image" in res.output


def test_changed_hints_are_a_changed_setting_on_resume(tmp_path, echo):
    Image.fromarray(np.full((20, 20), 128, np.uint8)).save(tmp_path / "a.png")
    hints = tmp_path / "h.csv"
    hints.write_text("x,y,r,g,b\n3,3,255,0,0\n")
    assert _run(tmp_path / "a.png", "-o", tmp_path / "o", "--model", echo, "--hints", hints).exit_code == 0
    res = _run(tmp_path / "a.png", "-o", tmp_path / "o", "--model", echo, "--hints", hints)
    assert res.exit_code == 0 and "1 skipped" in res.output
    hints.write_text("x,y,r,g,b\n5,5,255,0,0\n")
    res = _run(tmp_path / "a.png", "-o", tmp_path / "o", "--model", echo, "--hints", hints)
    assert res.exit_code == 1 and "hints:" in res.output


def test_python_api_takes_hints(tmp_path, echo):
    import crossspec
    from crossspec.models import create_model
    from crossspec.ops.hint_map import HintMap, centred_patch

    col = crossspec.load_colorizer(create_model(echo), device="cpu")
    gray = np.full((30, 30), 0.5, np.float32)
    plain = col.colorize(gray)
    assert np.allclose(plain[..., 0], plain[..., 1])
    hinted = col.colorize(gray, hints=HintMap(30, 30, [centred_patch(10, 12, 3, 60.0, 40.0)]), tile=16, overlap=4)
    assert _red(hinted * 255).sum() == 9 and _red(hinted * 255)[10, 12]
    hints = tmp_path / "h.csv"
    hints.write_text("x,y,r,g,b,size\n12,10,255,0,0,1\n")
    assert _red(col.colorize(gray, hints=hints) * 255).sum() == 1
    with pytest.raises(crossspec.errors.ConfigError, match="takes no colour hints"):
        crossspec.load_colorizer("nir-gray", device="cpu").colorize(gray, hints=hints)
