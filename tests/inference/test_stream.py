"""Streaming colorization: pointwise models skip tiling; tiled models blend as one pass would."""
import sys

import numpy as np
import pytest
import rasterio
import torch

from crossspec.inference.colorize import colorize_array, colorize_raster_file, column_strips
from crossspec.inference.predict import make_predictor
from crossspec.inference.stream import count_tiles, stream_colorize
from crossspec.inference.tiling import TileGrid
from crossspec.io.raster import Scaling, encode
from crossspec.models import create_model
from tests.inference.raster_fixtures import smooth_band, write_raster

COLORIZE = sys.modules["crossspec.inference.colorize"]  # the package exports a function of that name
STREAM = sys.modules["crossspec.inference.stream"]


def _recording(predict):
    shapes = []

    def run(tiles):
        shapes.append(tiles.shape)
        return predict(tiles)

    run.pointwise = predict.pointwise
    return run, shapes


def _tiny_colormamba():
    torch.manual_seed(0)
    return create_model("colormamba-small", tiny=True).eval()


@pytest.mark.parametrize("name", ["nir-gain", "nir-gray"])
def test_baselines_are_pointwise_and_others_are_not(name):
    assert make_predictor(create_model(name)).pointwise
    assert not make_predictor(torch.nn.Conv2d(1, 3, 3)).pointwise


def test_pointwise_model_runs_whole_rows_and_equals_the_untiled_result_exactly(monkeypatch):
    monkeypatch.setattr(STREAM, "POINTWISE_CHUNK_PIXELS", 30 * 70)  # several chunks
    net = create_model("nir-gain").eval()
    x = np.random.default_rng(0).uniform(size=(97, 70)).astype(np.float32)
    x[5:9, 10:30] = np.nan
    valid = np.isfinite(x)
    data = np.where(valid, x, 0).astype(np.float32)
    predict, shapes = _recording(make_predictor(net))
    out = colorize_array(data, valid, predict, tile=16, overlap=8)
    # No tiles and no overlap: whole-width chunks of rows, each pixel predicted once.
    assert all(s[0] == 1 and s[2] == 70 for s in shapes) and sum(s[1] for s in shapes) == 97
    with torch.no_grad():
        whole = net(torch.from_numpy(data)[None, None])[0].permute(1, 2, 0).numpy()
    assert np.isnan(out[~valid]).all()
    assert np.array_equal(out[valid], whole[valid])  # bit-identical, not merely close


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_pointwise_raster_in_strips_and_chunks_is_bit_identical_to_untiled(tmp_path, monkeypatch, dtype):
    monkeypatch.setattr(COLORIZE, "POINTWISE_STRIP_WIDTH", 64)
    monkeypatch.setattr(STREAM, "POINTWISE_CHUNK_PIXELS", 64 * 32)
    data = smooth_band(150, 230, np.uint16, seed=3)
    data[data == 0] = 1
    data[40:60, 100:180] = 0  # nodata hole across strips and chunks
    src = write_raster(tmp_path / "in.tif", data, nodata=0, tiled=True, blockxsize=16, blockysize=16)
    net = create_model("nir-gain").eval()
    predict, shapes = _recording(make_predictor(net))
    ticks = []
    dst = colorize_raster_file(src, tmp_path / "out.tif", predict, dtype=dtype, scaling=Scaling.parse("range:0,65535"),
                               tile=32, overlap=8, on_start=ticks.append, progress=lambda n: ticks.append(-n))
    assert len(shapes) > 4 and max(s[2] for s in shapes) <= 64
    assert ticks[0] == -sum(ticks[1:])  # the progress total announced is what is reported
    hole = data == 0
    unit = np.where(hole, 0, data.astype(np.float32) * np.float32(1 / 65535))
    with torch.no_grad():
        whole = net(torch.from_numpy(unit)[None, None])[0].numpy()
    with rasterio.open(dst) as ds:
        got = ds.read(masked=True)
    assert (got.mask[:, hole]).all() and not got.mask[:, ~hole].any()
    expect = encode(whole, dtype)
    assert np.array_equal(got.data[:, ~hole], expect[:, ~hole])


def _reference_blend(data, predict, tile, overlap, margin=None):
    """The blend as the module docstring of tiling defines it, written plainly: every tile, float64 sums."""
    grid = TileGrid(*data.shape, tile, overlap, margin)
    acc = np.zeros((3, *data.shape))
    wsum = np.zeros(data.shape)
    for i in range(len(grid.ys)):
        for t in grid.row(i):
            rgb = predict(data[None, t.y0:t.y0 + t.h, t.x0:t.x0 + t.w])[0]
            w = grid.weight(t)
            acc[:, t.y0:t.y0 + t.h, t.x0:t.x0 + t.w] += rgb * w
            wsum[t.y0:t.y0 + t.h, t.x0:t.x0 + t.w] += w
    return np.moveaxis(acc / wsum, 0, -1)


def test_tiled_colormamba_tiny_matches_the_plain_blend():
    # Tolerance 1e-5: the streamed blend sums in float32 and runs tiles in batches of 3; the plain
    # one sums in float64, one tile at a time. Anything else (a missed or misplaced tile, a wrong
    # weight) moves outputs by 1e-2 or more.
    predict = make_predictor(_tiny_colormamba())
    data = smooth_band(77, 101, np.float32, seed=2)
    got = colorize_array(data, np.ones(data.shape, bool), predict, tile=32, overlap=16, batch_size=3)
    np.testing.assert_allclose(got, _reference_blend(data, predict, 32, 16), atol=1e-5, rtol=0)


def test_column_strips_of_a_global_model_give_the_one_pass_result(tmp_path, monkeypatch):
    # ColorMamba sees its whole tile, so a strip with its own tile layout would change the output
    # near strip borders; strips run the whole raster's tiles instead.
    monkeypatch.setattr(COLORIZE, "STRIP_WIDTH", 64)
    predict = make_predictor(_tiny_colormamba())
    data = smooth_band(40, 300)
    src = write_raster(tmp_path / "wide.tif", data, tiled=True, blockxsize=16, blockysize=16)
    ticks = []
    dst = colorize_raster_file(src, tmp_path / "o.tif", predict, dtype="float32", tile=32, overlap=16,
                               on_start=ticks.append, progress=lambda n: ticks.append(-n))
    assert ticks[0] == -sum(ticks[1:])
    strips = column_strips(300, 16, 128, 32, 16)
    assert len(strips) == 3
    whole = colorize_array(data / np.float32(255), np.ones(data.shape, bool), predict, tile=32, overlap=16)
    with rasterio.open(dst) as ds:
        np.testing.assert_allclose(ds.read(), np.moveaxis(whole, -1, 0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("width, tile, overlap", [(3000, 512, 64), (300, 32, 16), (1000, 100, 0), (5000, 64, 16)])
def test_column_strips_write_every_column_once_from_whole_tiles(width, tile, overlap):
    strips = column_strips(width, 16, max(256, 4 * tile), tile, overlap)
    assert [c0 for _, _, c0, _ in strips] == [0] + [c1 for _, _, _, c1 in strips[:-1]] and strips[-1][3] == width
    grid = TileGrid(10, width, tile, overlap)
    for a, b, c0, c1 in strips:
        assert a <= c0 < c1 <= b and (a, b) == grid.span(c0, c1)
        assert count_tiles(10, b - a, tile, overlap, image_width=width, x_offset=a) >= 1


def test_a_strip_that_is_not_a_tile_span_is_refused():
    with pytest.raises(ValueError, match="not a span"):
        stream_colorize(8, 40, lambda y, n: None, lambda *a: None, lambda t: t, tile=32, overlap=8,
                        image_width=100, x_offset=10, pointwise=False)


def test_one_tile_per_model_call_on_cpu_by_default():
    conv = torch.nn.Conv2d(1, 3, 3, padding=1).eval()
    predict = make_predictor(conv)
    assert predict.batch_size == 1
    run, shapes = _recording(predict)
    run.batch_size = predict.batch_size
    data = smooth_band(60, 90, np.float32)
    colorize_array(data, np.ones(data.shape, bool), run, tile=32, overlap=8)
    assert len(shapes) == len(TileGrid(60, 90, 32, 8)) and all(s[0] == 1 for s in shapes)
