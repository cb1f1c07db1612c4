import numpy as np
import pytest
from PIL import Image

from crossspec.audit.sources import load_rgb, parse_source
from crossspec.errors import DataError


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_folder_pairs_nir_partners_and_recurses(tmp_path):
    rgb, gray = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8)
    _png(tmp_path / "0002_rgb.png", rgb)
    _png(tmp_path / "0002_nir.png", gray)
    _png(tmp_path / "sub" / "Testing_0001_rgb_reg.png", rgb)
    _png(tmp_path / "plain.png", rgb)
    src = parse_source(str(tmp_path))
    items = {i.label: i for i in src.items}
    assert sorted(items) == ["0002", "plain", "sub/testing_0001"]
    assert items["0002"].nir == tmp_path / "0002_nir.png" and items["plain"].nir is None
    assert parse_source(f"folder:{tmp_path}").items == src.items


def test_vcip_source(fake_vcip):
    src = parse_source(f"vcip2020:{fake_vcip}:test-clean-20")
    assert len(src.items) == 20 and src.items[0].label == "testing_0001"
    assert src.items[0].rgb == fake_vcip / "Testing" / "Testing_0001_rgb_reg.png"
    assert src.items[0].nir == fake_vcip / "Testing" / "testing_0001_nir_reg.png"


@pytest.mark.parametrize("spec, message", [
    ("vcip2020:nosplit", "vcip2020:ROOT:SPLIT"),
    ("{root}/missing", "image folder not found"),
])
def test_bad_sources_say_why(tmp_path, spec, message):
    with pytest.raises(DataError, match=message):
        parse_source(spec.format(root=tmp_path))


def test_unknown_vcip_split_and_nir_only_folder(fake_vcip, tmp_path):
    with pytest.raises(DataError, match="unknown VCIP 2020 split"):
        parse_source(f"vcip2020:{fake_vcip}:test-99")
    _png(tmp_path / "x_nir.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match=f"{tmp_path}: no RGB images"):
        parse_source(str(tmp_path))


def test_load_rgb_refuses_gray(tmp_path):
    _png(tmp_path / "g.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match="g.png: expected an RGB image, found 1 channel"):
        load_rgb(tmp_path / "g.png")
