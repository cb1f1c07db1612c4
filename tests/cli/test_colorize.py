
import numpy as np
import rasterio
from click.testing import CliRunner
from PIL import Image

from crossspec.cli import main
from tests.inference.raster_fixtures import smooth_band, write_raster


def _run(*args):
    return CliRunner().invoke(main, ["-q", "colorize", *map(str, args)])


def _folder(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    write_raster(src / "scene.tif", np.stack([smooth_band(40, 50, seed=s) for s in range(4)]))
    Image.fromarray(smooth_band(30, 20)).save(src / "sub" / "photo.png")
    Image.fromarray(smooth_band(24, 24, np.uint16)).save(src / "deep16.png")
    return src


def test_folder_of_rasters_and_images(tmp_path):
    src, out = _folder(tmp_path), tmp_path / "out"
    res = _run(src, "-o", out, "--model", "nir-gray", "-b", "4", "--tile", "32", "--overlap", "8")
    assert res.exit_code == 0, res.output
    with rasterio.open(out / "scene.tif") as ds:
        assert ds.count == 3 and ds.crs is not None
        with rasterio.open(src / "scene.tif") as s:
            np.testing.assert_array_equal(ds.read(1), s.read(4))  # nir-gray: R = band 4
    photo = np.asarray(Image.open(out / "sub" / "photo.png"))
    assert photo.shape == (30, 20, 3) and photo.dtype == np.uint8
    np.testing.assert_array_equal(photo[..., 1], smooth_band(30, 20))
    from crossspec.io.image import read_image

    assert read_image(out / "deep16.png").dtype == np.uint16  # 16-bit in -> 16-bit out

    # Re-running resumes: everything is skipped, nothing rewritten.
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", "nir-gray", "-b", "4"])
    assert res.exit_code == 0 and "0 colorized, 3 skipped" in res.output
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_no_overwrite_without_flag(tmp_path):
    src = write_raster(tmp_path / "a.tif", smooth_band(20, 20))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.tif").write_bytes(b"keep me")
    res = _run(src, "-o", out, "--model", "nir-gray", "--no-resume")
    assert res.exit_code == 1 and "exists already" in res.output
    assert (out / "a.tif").read_bytes() == b"keep me"
    res = _run(src, "-o", out, "--model", "nir-gray", "--overwrite")
    assert res.exit_code == 0, res.output
    with rasterio.open(out / "a.tif") as ds:
        assert ds.count == 3


def test_bad_files_are_reported_and_skipped(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth_band(16, 16)).save(src / "good.png")
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    (src / "empty.png").write_bytes(b"")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(src / "tiny.png")
    Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(src / "rgba.png")
    write_raster(src / "nodata.tif", np.zeros((8, 8), np.uint8), nodata=0)
    out = tmp_path / "out"
    res = _run(src, "-o", out, "--model", "nir-gray")
    assert res.exit_code == 1
    assert (out / "good.png").exists()
    lines = res.output
    assert "1 colorized, 0 skipped (already done), 5 failed" in lines
    for name, problem in [("corrupt.png", ""), ("empty.png", "empty"), ("tiny.png", "1x1"),
                          ("rgba.png", "alpha"), ("nodata.tif", "no valid pixels")]:
        msg = [ln for ln in lines.splitlines() if ln.startswith("  failed:") and name in ln]
        assert msg and problem in msg[0], (name, lines)
    assert not [p for p in out.rglob("*") if p.name != "good.png"]


def test_usage_errors(tmp_path):
    src = write_raster(tmp_path / "multi.tif", np.stack([smooth_band(8, 8)] * 3))
    res = _run(src, "-o", tmp_path / "o")
    assert res.exit_code == 1 and "--checkpoint CKPT or --model NAME" in res.output
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray")
    assert res.exit_code == 1 and "has 3 bands; choose" in res.output
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray", "-b", "2", "--scale", "bogus")
    assert res.exit_code == 1 and "--scale: cannot read 'bogus'" in res.output
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray", "-b", "2", "--tile", "64", "--overlap", "40")
    assert res.exit_code == 1 and "--overlap" in res.output


def test_float_raster_needs_scale_then_works_with_cog(tmp_path):
    data = smooth_band(40, 40, np.float32) * 5000 + 1000
    data[:4] = -99999
    src = write_raster(tmp_path / "s2_b8.tif", data.astype(np.float32), nodata=-99999)
    out = tmp_path / "o"
    res = _run(src, "-o", out, "--model", "nir-gray")
    assert res.exit_code == 1 and "s2_b8.tif: band 1 is float32" in res.output
    res = _run(src, "-o", out, "--model", "nir-gray", "--scale", "10000", "--offset", "-1000", "--cog",
               "--dtype", "uint16")
    assert res.exit_code == 0, res.output
    with rasterio.open(out / "s2_b8.tif") as ds:
        rgb = ds.read(masked=True)
        assert ds.dtypes[0] == "uint16" and ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert rgb.mask[:, :4].all() and not rgb.mask[:, 4:].any()
    np.testing.assert_allclose(rgb.data[0, 4:] / 65535, (data[4:] - 1000) / 10000, atol=1e-4)
