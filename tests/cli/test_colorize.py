import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from PIL import Image

import crossspec
from crossspec.cli import main
from tests.inference.raster_fixtures import smooth_band, write_raster


def _run(*args):
    return CliRunner().invoke(main, ["colorize", *map(str, args)])


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
    # -b reads every input as a raster: the one-band images cannot give band 4, and say so.
    assert res.exit_code == 1
    assert "deep16.png: band 4 does not exist (the raster has 1 band)" in res.output
    with rasterio.open(out / "scene.tif") as ds:
        assert ds.count == 3 and ds.crs is not None
        with rasterio.open(src / "scene.tif") as s:
            np.testing.assert_array_equal(ds.read(1), s.read(4))  # nir-gray: R = band 4
    res = _run(src, "-o", out, "--model", "nir-gray", "--glob", "*.png", "--tile", "32", "--overlap", "8")
    assert res.exit_code == 0, res.output
    photo = np.asarray(Image.open(out / "sub" / "photo.png"))
    assert photo.shape == (30, 20, 3) and photo.dtype == np.uint8
    np.testing.assert_array_equal(photo[..., 1], smooth_band(30, 20))
    from crossspec.io.image import read_image

    assert read_image(out / "deep16.png").dtype == np.uint16  # 16-bit in -> 16-bit out

    # Re-running resumes: everything is skipped, nothing rewritten.
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(out), "--model", "nir-gray", "--glob", "*.png",
                                    "--tile", "32", "--overlap", "8"])
    assert res.exit_code == 0 and "0 colorized, 2 skipped" in res.output, res.output
    res = CliRunner().invoke(main, ["colorize", str(src / "scene.tif"), "-o", str(out), "--model", "nir-gray",
                                    "-b", "4", "--tile", "32", "--overlap", "8"])
    assert res.exit_code == 0 and "0 colorized, 1 skipped" in res.output, res.output
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
    assert sorted(p.name for p in out.rglob("*")) == ["good.png", "good.png.crossspec.json"]


def test_usage_errors(tmp_path):
    src = write_raster(tmp_path / "multi.tif", np.stack([smooth_band(8, 8)] * 3))
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray", "--checkpoint", "x.safetensors")
    assert res.exit_code == 2 and "give one of them" in res.output
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray")
    assert res.exit_code == 1 and "has 3 bands; choose" in res.output
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray", "-b", "2", "--scale", "bogus")
    assert res.exit_code == 2 and "--scale: cannot read 'bogus'" in res.output
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray", "-b", "2", "--tile", "64", "--overlap", "40")
    assert res.exit_code == 2 and "--overlap" in res.output
    res = _run(tmp_path / "missing.tif", "-o", tmp_path / "o", "--model", "nir-gray")
    assert res.exit_code == 2 and "missing.tif: no such file or folder" in res.output


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


# ------------------------------------------------------------------------ outputs never land on inputs
def test_output_onto_its_own_input_is_refused(tmp_path):
    png = tmp_path / "scene.png"
    Image.fromarray(smooth_band(20, 30)).save(png)
    tif = write_raster(tmp_path / "geo.tif", smooth_band(20, 30))
    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    for src, out in ((png, tmp_path), (tif, tmp_path), (png, tmp_path / "link")):
        before = src.read_bytes()
        for extra in ((), ("--overwrite",)):
            res = _run(src, "-o", out, "--model", "nir-gain", *extra)
            assert res.exit_code == 1, res.output
            assert f"{src}: its output" in res.output and "destroy" in res.output
            assert src.read_bytes() == before


def test_folder_at_an_output_name_is_an_error_not_done(tmp_path):
    png = tmp_path / "scene.png"
    Image.fromarray(smooth_band(20, 30)).save(png)
    (tmp_path / "o" / "scene.png").mkdir(parents=True)
    for extra in ((), ("--overwrite",)):
        res = _run(png, "-o", tmp_path / "o", "--model", "nir-gain", *extra)
        assert res.exit_code == 1 and "scene.png: is a folder" in res.output, res.output
        assert "1 skipped" not in res.output and (tmp_path / "o" / "scene.png").is_dir()


# ------------------------------------------------------------------------ resume checks provenance
def _raster_and_image(tmp_path):
    (tmp_path / "in").mkdir()
    tif = write_raster(tmp_path / "in" / "geo.tif", np.stack([smooth_band(24, 32, np.uint16, seed=s)
                                                             for s in range(2)]))
    png = tmp_path / "in" / "photo.png"
    Image.fromarray(smooth_band(24, 32)).save(png)
    return tif, png


def test_resume_skips_only_outputs_made_with_the_same_settings(tmp_path):
    tif, png = _raster_and_image(tmp_path)
    out = tmp_path / "out"
    base = ["--model", "nir-gain", "--tile", "16", "--overlap", "4"]
    assert _run(tif, "-o", out, "-b", "2", *base).exit_code == 0
    assert _run(png, "-o", out, *base).exit_code == 0
    with rasterio.open(out / "geo.tif") as ds:
        assert '"model": "nir-gain"' in ds.tags()["crossspec_provenance"]
    saved = {p: p.read_bytes() for p in out.iterdir()}
    assert sorted(p.name for p in saved) == ["geo.tif", "photo.png", "photo.png.crossspec.json"]
    res = _run(tif, "-o", out, "-b", "2", *base)
    assert res.exit_code == 0 and "1 skipped (already done)" in res.output
    changed = [
        (tif, ["-b", "1", *base], 'band: 2 -> 1'),
        (tif, ["-b", "2", "--scale", "10000", *base], 'scaling: "dtype" -> "v/10000"'),
        (tif, ["-b", "2", "--nodata", "0", *base], 'nodata: null -> "0.0"'),
        (tif, ["-b", "2", "--dtype", "uint16", *base], 'dtype: "uint8" -> "uint16"'),
        (png, ["--model", "nir-gray", "--tile", "16", "--overlap", "4"], 'model: "nir-gain" -> "nir-gray"'),
        (png, ["--model", "nir-gain", "--tile", "32", "--overlap", "4"], "tile: 16 -> 32"),
        (png, [*base, "--tta", "hflip"], 'tta: "none" -> "hflip"'),
        (png, [*base, "--work-scale", "0.5"], "work_scale: null -> 0.5"),
    ]
    for src, args, diff in changed:
        res = _run(src, "-o", out, *args)
        assert res.exit_code == 1 and "was made with other settings" in res.output and diff in res.output, \
            (args, res.output)
        assert "skipped (already done)" in res.output and "0 skipped" in res.output
    assert saved == {p: p.read_bytes() for p in out.iterdir()}
    # --overwrite redoes it and records the new settings
    res = _run(png, "-o", out, "--model", "nir-gray", "--tile", "16", "--overlap", "4", "--overwrite")
    assert res.exit_code == 0, res.output
    assert '"model": "nir-gray"' in (out / "photo.png.crossspec.json").read_text()
    res = _run(png, "-o", out, "--model", "nir-gray", "--tile", "16", "--overlap", "4")
    assert res.exit_code == 0 and "1 skipped" in res.output


def test_output_without_provenance_is_not_done(tmp_path):
    tif, png = _raster_and_image(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo.png").write_bytes(b"someone else's file")
    write_raster(out / "geo.tif", smooth_band(24, 32))
    for src, args in ((png, []), (tif, ["-b", "1"])):
        res = _run(src, "-o", out, "--model", "nir-gain", *args)
        assert res.exit_code == 1 and "no crossspec provenance record" in res.output, res.output
    assert (out / "photo.png").read_bytes() == b"someone else's file"
    res = _run(png, "-o", out, "--model", "nir-gain", "--overwrite")
    assert res.exit_code == 0 and np.asarray(Image.open(out / "photo.png")).shape == (24, 32, 3)


def test_cog_output_keeps_its_provenance(tmp_path):
    tif = write_raster(tmp_path / "geo.tif", smooth_band(40, 40))
    out = tmp_path / "out"
    assert _run(tif, "-o", out, "--model", "nir-gain", "--cog").exit_code == 0
    res = _run(tif, "-o", out, "--model", "nir-gain", "--cog")
    assert res.exit_code == 0 and "1 skipped" in res.output, res.output
    res = _run(tif, "-o", out, "--model", "nir-gain")
    assert res.exit_code == 1 and "cog: true -> false" in res.output


# ------------------------------------------------------------------------ one rule for rasters and images
def test_raster_options_are_honoured_on_plain_tiffs_and_images(tmp_path):
    plain = write_raster(tmp_path / "plain.tif", smooth_band(20, 24), crs=None, transform=None)
    png = tmp_path / "photo.png"
    Image.fromarray(smooth_band(20, 24)).save(png)
    for src in (plain, png):
        res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray", "-b", "2")
        assert res.exit_code == 1 and f"{src}: band 2 does not exist (the raster has 1 band)" in res.output
    floats = smooth_band(20, 24, np.float32) * 8000 + 1000
    ftif = write_raster(tmp_path / "refl.tif", floats, crs=None, transform=None)
    res = _run(ftif, "-o", tmp_path / "o", "--model", "nir-gray", "--scale", "10000")
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "o" / "refl.tif") as ds:
        np.testing.assert_allclose(ds.read(1) / 255, floats / 10000, atol=0.5 / 255 + 1e-6)
    api = crossspec.colorize(ftif, model="nir-gray", scale="10000", device="cpu")
    np.testing.assert_allclose(api[..., 0], floats / 10000, atol=1e-6)


# ------------------------------------------------------------------------ scaling that blanks the output
@pytest.mark.parametrize("args", [["--offset", "nan"], ["--offset", "inf"], ["--offset", "-inf"],
                                  ["--scale", "range:0,1e999"], ["--scale", "percentile:nan,98"]])
def test_non_finite_scaling_is_a_usage_error(tmp_path, args):
    tif = write_raster(tmp_path / "geo.tif", smooth_band(20, 20))
    res = _run(tif, "-o", tmp_path / "o", "--model", "nir-gray", *args)
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "o").exists()


def test_scaling_that_clips_nearly_everything_is_refused(tmp_path):
    # The README's Sentinel-2 recipe on a uint8 raster: every value minus 1000 is below 0.
    tif = write_raster(tmp_path / "geo.tif", np.stack([smooth_band(20, 20)] * 4))
    recipe = ["-b", "4", "--scale", "10000", "--offset", "-1000", "--model", "nir-gain"]
    res = _run(tif, "-o", tmp_path / "o", *recipe)
    assert res.exit_code == 1, res.output
    assert "geo.tif: 100.0% of the valid pixels of band 4 fall outside [0, 1]" in res.output
    assert not (tmp_path / "o" / "geo.tif").exists()
    res = _run(tif, "-o", tmp_path / "o", *recipe, "--allow-clipping")
    assert res.exit_code == 0 and "100.0% of the valid pixels" in res.output  # still said, as a warning
    # a stretch that clips a third of the pixels is done, with a warning
    res = _run(tif, "-o", tmp_path / "o2", "-b", "4", "--scale", "percentile:20,80", "--model", "nir-gain")
    assert res.exit_code == 0 and "of the valid pixels of band 4 fall outside [0, 1]" in res.output


# ------------------------------------------------------------------------ smaller ones
def test_symlink_loop_in_a_folder_is_reported(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth_band(16, 16)).save(src / "good.png")
    (src / "a.png").symlink_to(src / "b.png")
    (src / "b.png").symlink_to(src / "a.png")
    res = _run(src, "-o", tmp_path / "o", "--model", "nir-gray")
    assert res.exit_code == 0, res.output
    assert f"{src / 'a.png'}: symbolic link loop; skipped" in res.output


def test_truncated_geotiff_is_one_line_naming_the_file(tmp_path):
    full = write_raster(tmp_path / "full.tif", smooth_band(300, 300), compress="deflate", tiled=True,
                        blockxsize=64, blockysize=64)
    data = full.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) * 2 // 3])
    res = _run(cut, "-o", tmp_path / "o", "--model", "nir-gray")
    assert res.exit_code == 1
    assert f"failed: {cut}: cannot read band 1: the file is truncated or corrupt" in res.output
    assert "See previous exception" not in res.output and "GDAL signalled" not in res.output


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits; the immutable attribute stops it too
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a read-only folder as root here (chattr +i failed)")
        yield folder
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_read_only_output_folder_is_one_line_before_any_work(tmp_path, read_only_folder, monkeypatch):
    png = tmp_path / "photo.png"
    Image.fromarray(smooth_band(16, 16)).save(png)
    monkeypatch.setattr("crossspec.inference.predict.load_model",
                        lambda *a, **k: pytest.fail("the model was loaded before the folder was checked"))
    res = _run(png, "-o", read_only_folder, "--model", "nir-gray")
    assert res.exit_code == 1
    assert res.output.startswith(f"Error: {read_only_folder}: cannot write to this output folder (")
    assert len(res.output.strip().splitlines()) == 1 and "Errno" not in res.output


def test_plain_output_has_no_control_codes_or_raw_warnings(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        write_raster(src / f"plain{i}.tif", smooth_band(40, 40, seed=i), crs=None, transform=None)
    res = CliRunner().invoke(main, ["colorize", str(src), "-o", str(tmp_path / "o"), "--model", "nir-gray", "-b", "1",
                                    "--tile", "16", "--overlap", "4"])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "\r" not in res.output
    assert "NotGeoreferencedWarning" not in res.output
    assert res.output.strip() == f"2 colorized, 0 skipped (already done), 0 failed -> {tmp_path / 'o'}"


def test_help_names_only_real_arguments():
    res = CliRunner().invoke(main, ["colorize", "--help"])
    assert res.exit_code == 0
    assert " OUT" not in res.output and "INPUT..." in res.output


def test_readme_colorize_examples_name_a_model():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    lines = [ln for ln in readme.splitlines() if ln.strip().startswith("crossspec colorize")]
    assert lines
    for ln in lines:
        assert "--model" in ln or "--checkpoint" in ln, ln


def test_gdal_vsizip_input(tmp_path):
    tif = write_raster(tmp_path / "scene.tif", smooth_band(20, 24))
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as z:
        z.write(tif, "inner/scene.tif")
    tif.unlink()
    vsi = f"/vsizip/{tmp_path / 'bundle.zip'}/inner/scene.tif"
    res = _run(vsi, "-o", tmp_path / "o", "--model", "nir-gray")
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "o" / "scene.tif") as ds:
        np.testing.assert_array_equal(ds.read(2), smooth_band(20, 24))
    res = _run(vsi, "-o", tmp_path / "o", "--model", "nir-gray")
    assert res.exit_code == 0 and "1 skipped" in res.output
    res = _run(f"/vsizip/{tmp_path / 'bundle.zip'}/inner/missing.tif", "-o", tmp_path / "o2", "--model", "nir-gray")
    assert res.exit_code == 1 and "missing.tif: cannot be read as a raster" in res.output, res.output
