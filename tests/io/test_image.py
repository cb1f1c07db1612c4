import logging
import time
import warnings

import numpy as np
import pytest
import rasterio
from PIL import Image

from crossspec.errors import DataError
from crossspec.io.image import IMAGE_EXTENSIONS, load_image, read_image, save_image, to_float


def _rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    return rng.integers(0, top + 1, size=shape, dtype=np.int64).astype(dtype)


def _gdal_write(path, arr, driver="GTiff", **options):
    """Write (H, W, C) with GDAL itself, as other tools produce these files."""
    h, w, c = arr.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver=driver, width=w, height=h, count=c, dtype=arr.dtype.name, **options) as dst:
            dst.write(np.moveaxis(arr, -1, 0))
    return path


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_roundtrip_lossless(tmp_path, suffix, channels, dtype):
    arr = _rand((5, 7, channels), dtype)
    p = save_image(tmp_path / f"x{suffix}", arr, bits=8 if dtype == np.uint8 else 16)
    back = read_image(p)
    assert back.dtype == dtype and back.shape == (5, 7, channels)
    np.testing.assert_array_equal(back, arr)


def test_png16_rgb_filters_decoded(tmp_path):
    # A 16-bit RGB PNG written by another encoder uses Sub/Up/Average/Paeth rows; build one by hand.
    import struct
    import zlib

    rng = np.random.default_rng(1)
    h, w, bpp = 4, 5, 6
    img = rng.integers(0, 256, size=(h, w * bpp), dtype=np.int64)
    rows = []
    prev = np.zeros(w * bpp, np.int64)
    for y in range(h):
        ftype = y % 4 + 1 if y else 0
        cur = img[y]
        filt = np.zeros_like(cur)
        for x in range(w * bpp):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 0:
                pred = 0
            elif ftype == 1:
                pred = a
            elif ftype == 2:
                pred = b
            elif ftype == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            filt[x] = (cur[x] - pred) % 256
        rows.append(bytes([ftype]) + bytes(filt.astype(np.uint8)))
        prev = cur

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
    (tmp_path / "f.png").write_bytes(png)
    got = read_image(tmp_path / "f.png")
    want = img.astype(np.uint8).reshape(h, w * 3, 2)
    want = (want[..., 0].astype(np.uint16) << 8 | want[..., 1]).reshape(h, w, 3)
    np.testing.assert_array_equal(got, want)


def test_float_tiff_and_pillow_formats(tmp_path):
    f = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4, 1)
    _gdal_write(tmp_path / "f.tiff", f)
    back = read_image(tmp_path / "f.tiff")
    assert back.dtype == np.float32 and back.shape == (3, 4, 1)
    np.testing.assert_array_equal(back, f)
    _gdal_write(tmp_path / "f64.tif", f.astype(np.float64))
    assert read_image(tmp_path / "f64.tif").dtype == np.float32
    # planar (band-sequential) RGB TIFF comes back as (H, W, 3)
    rgb = _rand((6, 5, 3), np.uint16)
    _gdal_write(tmp_path / "p.tif", rgb, photometric="RGB", interleave="band")
    np.testing.assert_array_equal(read_image(tmp_path / "p.tif"), rgb)
    # palette PNG expands to RGB; JPEG reads as uint8
    Image.fromarray(_rand((4, 4), np.uint8)).convert("P").save(tmp_path / "pal.png")
    assert read_image(tmp_path / "pal.png").shape == (4, 4, 3)
    save_image(tmp_path / "j.jpg", np.full((8, 8, 3), 0.5, np.float32))
    j = read_image(tmp_path / "j.jpg")
    assert j.dtype == np.uint8 and abs(int(j.mean()) - 128) <= 2


def test_to_float_scaling_and_checks():
    assert to_float(np.array([[255]], np.uint8)).dtype == np.float32
    np.testing.assert_allclose(to_float(np.array([0, 255], np.uint8)), [0, 1])
    np.testing.assert_allclose(to_float(np.array([0, 65535, 32768], np.uint16)), [0, 1, 32768 / 65535], rtol=1e-6)
    np.testing.assert_allclose(to_float(np.array([0.25], np.float64)), [0.25])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        to_float(np.array([1.5], np.float32), "img.tif")
    with pytest.raises(DataError, match="NaN"):
        to_float(np.array([np.nan], np.float32))
    with pytest.raises(DataError, match="int16"):
        to_float(np.array([1], np.int16))


def test_save_rounds_not_truncates(tmp_path):
    vals = np.array([[0.0, 0.499 / 255, 0.501 / 255, 1.0, 254.6 / 255]], np.float32)
    p = save_image(tmp_path / "r.png", vals)
    np.testing.assert_array_equal(read_image(p)[0, :, 0], [0, 0, 1, 255, 255])
    p16 = save_image(tmp_path / "r16.png", np.array([[0.6 / 65535, 1.0]], np.float32), bits=16)
    np.testing.assert_array_equal(read_image(p16)[0, :, 0], [1, 65535])


def test_save_refuses_overwrite_and_is_atomic(tmp_path):
    p = save_image(tmp_path / "a.png", np.zeros((2, 2), np.float32))
    with pytest.raises(DataError, match="exists already"):
        save_image(p, np.ones((2, 2), np.float32))
    save_image(p, np.ones((2, 2), np.float32), overwrite=True)
    assert read_image(p).max() == 255
    with pytest.raises(DataError, match=r"b\.png: "):
        save_image(tmp_path / "b.png", np.full((2, 2), 2.0, np.float32))  # out of range -> no file left
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.png"]


def test_save_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="JPEG"):
        save_image(tmp_path / "x.jpg", np.zeros((2, 2)), bits=16)
    with pytest.raises(DataError, match="suffix"):
        save_image(tmp_path / "x.gif", np.zeros((2, 2)))
    with pytest.raises(DataError, match="uint16"):
        save_image(tmp_path / "x.png", np.zeros((2, 2), np.uint16), bits=8)


def test_load_image_modes(tmp_path):
    gray = _rand((4, 5), np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(np.stack([gray] * 3, -1)).save(tmp_path / "g3.png")
    Image.fromarray(_rand((4, 5, 3), np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(_rand((4, 5, 4), np.uint8)).save(tmp_path / "a.png")
    g = load_image(tmp_path / "g.png", "gray")
    assert g.shape == (4, 5, 1) and g.dtype == np.float32 and 0 <= g.min() and g.max() <= 1
    np.testing.assert_array_equal(load_image(tmp_path / "g3.png", "gray"), g)
    assert load_image(tmp_path / "c.png", "rgb").shape == (4, 5, 3)
    assert load_image(tmp_path / "a.png").shape == (4, 5, 4)
    with pytest.raises(DataError, match=r"a\.png: .*3 channels, found 4"):
        load_image(tmp_path / "a.png", "rgb")
    with pytest.raises(DataError, match=r"c\.png: .*found 3 channels"):
        load_image(tmp_path / "c.png", "gray")
    with pytest.raises(DataError, match=r"g\.png: .*found 1"):
        load_image(tmp_path / "g.png", "rgb")


def test_bad_files_raise_data_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    Image.fromarray(_rand((64, 64, 3), np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    save_image(tmp_path / "full.tif", _rand((64, 64), np.uint16), bits=16)
    t = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "trunc.tif").write_bytes(t[:20])
    for name, msg in [("empty.png", "empty"), ("junk.png", "cannot read"), ("trunc.png", "cannot read"),
                      ("trunc.tif", "cannot read"), ("missing.png", "no such")]:
        with pytest.raises(DataError, match=rf"{name}: .*{msg}"):
            read_image(tmp_path / name)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lzw_tiff(tmp_path, dtype):
    # LZW is what GDAL, QGIS and most cameras write; tifffile needed imagecodecs for it
    arr = _rand((33, 41, 3), dtype)
    _gdal_write(tmp_path / "lzw.tif", arr, photometric="RGB", compress="lzw", predictor=2)
    np.testing.assert_array_equal(read_image(tmp_path / "lzw.tif"), arr)


def test_jpeg_in_tiff(tmp_path):
    smooth = (np.linspace(0, 255, 48)[None, :, None] * np.linspace(0.3, 1, 32)[:, None, None] * [1, .8, .5])
    arr = smooth.astype(np.uint8)
    _gdal_write(tmp_path / "j.tif", arr, photometric="YCBCR", compress="jpeg", jpeg_quality=95)
    back = read_image(tmp_path / "j.tif")
    assert back.dtype == np.uint8 and back.shape == (32, 48, 3)  # YCbCr decoded to RGB
    assert np.abs(back.astype(int) - arr).max() <= 6


def test_bigtiff_tiled_lzw_and_palette_tiff(tmp_path):
    arr = _rand((70, 90, 1), np.uint16)
    _gdal_write(tmp_path / "big.tif", arr, bigtiff="YES", tiled=True, blockxsize=32, blockysize=32, compress="lzw")
    assert (tmp_path / "big.tif").read_bytes()[:4] == b"II+\x00"
    np.testing.assert_array_equal(read_image(tmp_path / "big.tif"), arr)
    # palette TIFFs expand to RGB, as palette PNGs do
    index = _rand((4, 6), np.uint8)
    Image.fromarray(index).convert("P").save(tmp_path / "pal.tif")
    want = np.asarray(Image.open(tmp_path / "pal.tif").convert("RGB"))
    np.testing.assert_array_equal(read_image(tmp_path / "pal.tif"), want)


def test_png16_rgb_and_gray_from_libpng(tmp_path):
    # libpng picks Sub/Up/Average/Paeth per row; the old Python decoder took 8-12 us per pixel on these
    yy, xx = np.mgrid[0:512, 0:512]
    rgb = np.stack([xx * 128, yy * 128, (xx + yy) * 64], -1).astype(np.uint16) + _rand((512, 512, 3), np.uint8)
    _gdal_write(tmp_path / "rgb16.png", rgb, driver="PNG")
    start = time.perf_counter()
    back = read_image(tmp_path / "rgb16.png")
    elapsed = time.perf_counter() - start
    assert back.dtype == np.uint16 and back.shape == (512, 512, 3)
    np.testing.assert_array_equal(back, rgb)
    assert elapsed < 1.0, f"reading a 0.26 MP 16-bit PNG took {elapsed:.2f} s"
    gray = _rand((9, 13, 1), np.uint16)
    _gdal_write(tmp_path / "g16.png", gray, driver="PNG")
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png"), gray)
    # and what save_image writes at 16 bits reads back the same in other readers
    save_image(tmp_path / "s16.png", gray, bits=16)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "s16.png")), gray[..., 0])


def test_plain_images_warn_nothing_and_leave_no_sidecars(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NotGeoreferencedWarning for a photo would be noise
        save_image(tmp_path / "a.tif", _rand((5, 6, 4), np.uint8))
        save_image(tmp_path / "b.png", _rand((5, 6, 3), np.uint16), bits=16)
        assert read_image(tmp_path / "a.tif").shape == (5, 6, 4)
        assert read_image(tmp_path / "b.png").shape == (5, 6, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.png"]  # no .aux.xml, no temporary
    with Image.open(tmp_path / "a.tif") as im:
        assert im.mode == "RGBA"  # the 4th channel is marked as alpha


@pytest.mark.parametrize("make", ["lzw_tiff", "png16", "jpeg_tiff"])
def test_truncated_gdal_files_one_line_error(tmp_path, caplog, make):
    arr = _rand((64, 64, 3), np.uint16 if make != "jpeg_tiff" else np.uint8)
    if make == "png16":
        full = _gdal_write(tmp_path / "full.png", arr, driver="PNG")
    else:
        opts = {"compress": "lzw"} if make == "lzw_tiff" else {"compress": "jpeg", "photometric": "YCBCR"}
        full = _gdal_write(tmp_path / "full.tif", arr, **opts)
    cut = tmp_path / f"cut{full.suffix}"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    caplog.set_level(logging.INFO)  # what the CLI prints by default
    with pytest.raises(DataError) as err:
        read_image(cut)
    msg = str(err.value)
    assert msg.startswith(f"{cut}: cannot read image (") and "\n" not in msg
    # GDAL's own echo of the error would print above the CLI's one-line message
    assert not [r for r in caplog.records if r.name.startswith("rasterio")]


def test_not_an_image_with_tiff_or_png_name(tmp_path):
    (tmp_path / "junk.tif").write_bytes(b"II*\x00 this is not a TIFF")
    (tmp_path / "text.tiff").write_text("hello")
    (tmp_path / "png16.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + bytes(8) + b"\x10\x02")
    for name in ("junk.tif", "text.tiff", "png16.png"):
        with pytest.raises(DataError, match=rf"^{tmp_path / name}: cannot read image \(") as err:
            read_image(tmp_path / name)
        assert "\n" not in str(err.value)


def test_extensions():
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff"} <= set(IMAGE_EXTENSIONS)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 5, 1), (33, 17, 3), (16, 9, 4)])
def test_png_writer_round_trips_exactly(tmp_path, dtype, shape):
    rng = np.random.default_rng(sum(shape))
    top = np.iinfo(dtype).max
    arr = rng.integers(0, top + 1, size=shape, dtype=np.int64).astype(dtype)
    arr[0, 0] = top  # extremes exercise the modulo-256 wrap of the Sub filter
    path = save_image(tmp_path / "x.png", arr, bits=8 if dtype == np.uint8 else 16)
    back = read_image(path)
    assert back.dtype == dtype and np.array_equal(back, arr)
    if dtype == np.uint8:  # and another decoder agrees
        with Image.open(path) as im:
            assert np.array_equal(np.asarray(im).reshape(shape), arr)


def test_png_writer_takes_non_contiguous_arrays(tmp_path):
    planes = np.random.default_rng(0).uniform(size=(3, 20, 30)).astype(np.float32)
    rgb = np.moveaxis(planes, 0, -1)  # channels-first memory, as colorize hands it over
    back = read_image(save_image(tmp_path / "x.png", rgb))
    assert np.array_equal(back, np.rint(rgb.astype(np.float64) * 255).astype(np.uint8))
