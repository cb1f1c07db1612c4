"""Hint files: parsing, the checks that name file and line, and placement in pixel and map coordinates."""
import numpy as np
import pytest
from affine import Affine

from crossspec.errors import DataError
from crossspec.io.hint_file import DEFAULT_SIZE, place_hints, read_hint_file
from crossspec.ops.hint_map import AB_SCALE, rgb_to_ab


def _write(tmp_path, text, name="hints.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_pixel_hints_are_placed_with_their_colour_and_size(tmp_path):
    p = _write(tmp_path, "# a lake and a field\nx,y,r,g,b,size,label\n10,4,0,0,255,5,lake\n\n3.7,0.2,0,200,0,,field\n")
    hf = read_hint_file(p)
    assert hf.coordinates == "pixel" and [r.line for r in hf.rows] == [3, 5] and len(hf.sha256) == 64
    assert hf.rows[1].size == DEFAULT_SIZE
    hm = place_hints(hf, 12, 20)
    full = hm.full()
    blue = rgb_to_ab([[0, 0, 1]])[0] / AB_SCALE
    np.testing.assert_allclose(full[4, 10, :2], blue, rtol=1e-5)
    assert full[2:7, 8:13, 2].all() and full[..., 2].sum() == 25 + 2 * 3  # the 3x3 patch at (0, 3) is cut at the top
    assert full[0, 3, 2] == 1 and full[1, 2, 2] == 1 and full[2, 3, 2] == 0


def test_map_coordinates_go_through_the_geotransform(tmp_path):
    transform = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4600000.0)
    # the centre of pixel (row 3, col 7) and a point inside pixel (row 0, col 0)
    p = _write(tmp_path, "east,north,r,g,b,size\n500075,4599965,255,0,0,1\n500001,4599999,0,0,255,1\n")
    hm = place_hints(read_hint_file(p), 10, 10, transform)
    assert [(q.row, q.col) for q in hm.patches] == [(3, 7), (0, 0)]


@pytest.mark.parametrize("text, message", [
    ("x,y,r,g\n1,1,0,0\n", "line 1: the header lacks column 'b'"),
    ("x,y,east,north,r,g,b\n", "line 1: the header has both"),
    ("r,g,b\n1,2,3\n", "line 1: the header has neither"),
    ("x,y,r,g,b,colour\n", "line 1: unknown column 'colour'"),
    ("x,y,r,g,b\n1,1,0,300,0\n", "line 2: colour g = 300 is outside 0-255"),
    ("x,y,r,g,b\n1,1,0,0\n", "line 2: 4 values for 5 columns"),
    ("x,y,r,g,b\n1,one,0,0,0\n", "line 2: y = 'one' is not a number"),
    ("x,y,r,g,b,size\n1,1,0,0,0,2.5\n", "line 2: size = '2.5' is not a whole number"),
    ("x,y,r,g,b\n", "has a header but no hint"),
    ("", "has no header line"),
])
def test_bad_files_name_file_and_line(tmp_path, text, message):
    p = _write(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_hint_file(p)
    assert str(err.value).startswith(str(p)) and message in str(err.value)


def test_points_outside_the_image_and_map_coordinates_without_georeferencing(tmp_path):
    p = _write(tmp_path, "x,y,r,g,b\n1,1,0,0,0\n20,3,0,0,0\n")
    with pytest.raises(DataError, match=r"line 3: x = 20, y = 3 lies outside the image \(20 x 10 pixels\)"):
        place_hints(read_hint_file(p), 10, 20)
    m = _write(tmp_path, "east,north,r,g,b\n500075,4599965,255,0,0\n", "map.csv")
    with pytest.raises(DataError, match="line 2: east,north are map coordinates, but the image is not georeferenced"):
        place_hints(read_hint_file(m), 10, 10, None)
    transform = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4600000.0)
    far = _write(tmp_path, "east,north,r,g,b\n400000,4599965,255,0,0\n", "far.csv")
    with pytest.raises(DataError, match="line 2: east = 400000, north = 4.59996e\\+06 \\(pixel column -10000.0"):
        place_hints(read_hint_file(far), 10, 10, transform)
