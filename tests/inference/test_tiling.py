import numpy as np
import pytest
import torch
import torch.nn as nn

from crossspec.errors import ConfigError
from crossspec.inference.colorize import colorize_array
from crossspec.inference.predict import make_predictor
from crossspec.inference.stream import stream_colorize
from crossspec.inference.tiling import TileGrid, ramp, tile_starts


class ConvColorizer(nn.Module):
    """Three 3x3 convs with zero padding: receptive-field radius 3."""

    size_multiple = 1

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 8, 3, padding=1), nn.Tanh(),
                                 nn.Conv2d(8, 3, 3, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("length, tile, overlap", [(100, 32, 8), (32, 32, 8), (20, 32, 8), (1000, 512, 64), (33, 32, 0)])
def test_tile_starts_cover(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s:s + size] = True
        assert 0 <= s and s + size <= length
    assert covered.all()
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_ramps_of_exact_overlap_are_complementary():
    a = ramp(64, 32, 8, taper_start=False, taper_end=True)
    b = ramp(64, 32, 8, taper_start=True, taper_end=False)
    # Tiles starting 32 apart overlap by exactly 32 pixels: the weights add to 1 there.
    np.testing.assert_allclose(a[32:] + b[:32], 1.0, atol=1e-12)
    assert (a[-8:] == 0).all() and (b[:8] == 0).all()  # margin pixels are not trusted
    assert (np.diff(b[:32]) >= 0).all()


@pytest.mark.parametrize("h, w", [(100, 70), (40, 40), (17, 90)])
def test_total_weight_positive_everywhere(h, w):
    grid = TileGrid(h, w, tile=32, overlap=12, margin=3)
    total = np.zeros((h, w))
    for i in range(len(grid.ys)):
        for t in grid.row(i):
            total[t.y0:t.y0 + t.h, t.x0:t.x0 + t.w] += grid.weight(t)
    assert total.min() > 0.5


def test_small_image_is_one_tile():
    grid = TileGrid(20, 30, tile=64, overlap=16)
    assert len(grid) == 1
    assert (grid.weight(grid.row(0)[0]) == 1).all()


def test_bad_tiling_parameters():
    with pytest.raises(ConfigError, match="--overlap"):
        TileGrid(10, 10, tile=32, overlap=20)
    with pytest.raises(ConfigError, match="--tile"):
        TileGrid(10, 10, tile=4, overlap=0)
    with pytest.raises(ConfigError, match="margin"):
        TileGrid(10, 10, tile=32, overlap=8, margin=4)


def test_tiled_equals_whole_image_inside_receptive_field():
    model = ConvColorizer().eval()
    x = torch.rand(1, 1, 77, 101)
    with torch.no_grad():
        whole = model(x)[0].permute(1, 2, 0).numpy()
    predict = make_predictor(model)
    data = x[0, 0].numpy()
    tiled = colorize_array(data, np.ones_like(data, bool), predict, tile=32, overlap=16, margin=4, batch_size=3)
    np.testing.assert_allclose(tiled, whole, atol=2e-6)
    # A margin smaller than the receptive field lets zero padding at tile edges leak in.
    leaky = colorize_array(data, np.ones_like(data, bool), predict, tile=32, overlap=16, margin=0)
    assert np.abs(leaky - whole).max() > 1e-3


def test_predictor_pads_to_size_multiple():
    seen = []

    class NeedsEight(nn.Module):
        size_multiple = 8

        def forward(self, x):
            seen.append(tuple(x.shape[-2:]))
            assert x.shape[-1] % 8 == 0 and x.shape[-2] % 8 == 0
            return x.repeat(1, 3, 1, 1)

    predict = make_predictor(NeedsEight(), device="cpu")
    tiles = np.random.default_rng(0).uniform(size=(2, 13, 21)).astype(np.float32)
    out = predict(tiles)
    assert seen == [(16, 24)] and out.shape == (2, 3, 13, 21)
    np.testing.assert_allclose(out[:, 0], tiles)


def test_stream_holds_one_tile_row_and_writes_whole_blocks():
    h, w, tile, block = 1000, 64, 48, 16
    reads, writes = [], []

    def read_rows(y, n):
        reads.append(n)
        return np.full((n, w), 0.5, np.float32), np.ones((n, w), bool)

    def write_rows(rgb, valid, y0):
        writes.append((y0, rgb.shape[1]))
        np.testing.assert_allclose(rgb, 0.5, atol=1e-6)

    max_rows = stream_colorize(h, w, read_rows, write_rows, lambda t: np.repeat(t[:, None], 3, 1),
                               tile=tile, overlap=16, block_height=block)
    assert max(reads) == tile
    assert max_rows <= tile + block
    assert sum(n for _, n in writes) == h
    assert all(y0 % block == 0 for y0, _ in writes)
    assert [y0 for y0, _ in writes] == sorted(y0 for y0, _ in writes)
