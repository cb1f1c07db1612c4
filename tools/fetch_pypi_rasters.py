"""Fetch the real multispectral rasters that some PyPI packages ship as sample or test data.

    python tools/fetch_pypi_rasters.py --root DATA_ROOT [--spec tools/pypi_rgbn_sources.yaml] [--overwrite]

The manifest ``overhead-plus`` lists scenes from these files beside the project's shared rasters; its
paths are relative to a data root that holds ``rasters-rgbn/``, ``geotiff/`` and the folder this tool
fills (``pypi-rgbn/`` by default). Every source in the spec names an exact package version, the
archive's sha256 and each member's sha256, so what lands is byte for byte what the manifest was
made from. ``pip download`` is the only network access, and only when run by hand: nothing in
crossspec fetches data by itself.

Spec (YAML)::

    folder: pypi-rgbn
    packages:
      - requirement: rio-toa==0.3.0     # exact pin
        dist: sdist                      # or wheel
        sha256: <the archive's>
        licence: MIT (package); Landsat: USGS, public domain
        files:
          - {member: rio-toa-0.3.0/tests/data/x_B4.TIF, to: rio-toa/x_B4.TIF, sha256: <the file's>}
          # a JSON array (bands, rows, cols) of integers, written as a GeoTIFF without georeferencing;
          # pixels_sha256 pins the decoded uint16 pixels, since GeoTIFF bytes vary with the GDAL version
          - {member: pkg/data/x.json, to: pkg/x.tif, sha256: <the JSON's>, convert: json-bands, pixels_sha256: ...}

A file already in place with the right sha256 (pixels, for a converted one) is left alone; one with
other content is an error unless ``--overwrite``. Files are written to a temporary name and renamed, so an interrupted run leaves no
half-written raster.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import yaml

DEFAULT_SPEC = Path(__file__).with_name("pypi_rgbn_sources.yaml")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(requirement: str, dist: str, into: Path) -> Path:
    """``pip download`` one distribution (no dependencies) into ``into``; returns the archive."""
    how = ["--no-binary", ":all:"] if dist == "sdist" else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *how, requirement, "-d", str(into)]
    subprocess.run(cmd, check=True)
    archives = [p for p in into.iterdir() if p.suffix in (".gz", ".zip", ".whl")]
    if len(archives) != 1:
        raise SystemExit(f"{requirement}: expected one archive from pip download, got {[p.name for p in archives]}")
    return archives[0]


def members(archive: Path) -> dict[str, bytes]:
    """``{member name: bytes}`` of a .tar.gz sdist or a .zip / .whl."""
    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive) as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    with zipfile.ZipFile(archive) as z:
        return {n: z.read(n) for n in z.namelist() if not n.endswith("/")}


def json_bands(data: bytes) -> np.ndarray:
    """A JSON array ``(bands, rows, cols)`` of integers in the uint16 range, as uint16."""
    cube = np.asarray(json.loads(data))
    if cube.ndim != 3 or cube.dtype.kind not in "iu" or cube.min() < 0 or cube.max() > 65535:
        raise SystemExit(f"expected a (bands, rows, cols) array of uint16 values, got {cube.shape} {cube.dtype}")
    return cube.astype(np.uint16)


def pixels_sha256(path: Path) -> str:
    import rasterio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # the converted arrays have none
        with rasterio.open(path) as ds:
            return sha256(np.ascontiguousarray(ds.read()).tobytes())


def present(dest: Path, f: dict) -> bool:
    """Is the file the spec names already in place, with the pinned content?"""
    if not dest.exists():
        return False
    if f.get("convert"):
        return pixels_sha256(dest) == f["pixels_sha256"]
    return sha256(dest.read_bytes()) == f["sha256"]


def write_atomic(dest: Path, write) -> None:
    """``write(tmp_path)`` then rename onto ``dest``, so an interrupted run leaves no half-written file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=dest.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def place(data: bytes, dest: Path, f: dict, overwrite: bool) -> str:
    """Write the member ``data`` (converted if the spec says so) to ``dest``; ``"kept"`` when already there."""
    if sha256(data) != f["sha256"]:
        raise SystemExit(f"{dest.name}: the archive's copy has sha256 {sha256(data)}, the spec says {f['sha256']}")
    if present(dest, f):
        return "kept"
    if dest.exists() and not overwrite:
        raise SystemExit(f"{dest}: exists with other content; move it away or pass --overwrite")
    if f.get("convert") == "json-bands":
        import rasterio

        cube = json_bands(data)
        if sha256(cube.tobytes()) != f["pixels_sha256"]:
            raise SystemExit(f"{dest.name}: the converted pixels have sha256 {sha256(cube.tobytes())}, "
                             f"the spec says {f['pixels_sha256']}")

        def write(tmp: Path) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                with rasterio.open(tmp, "w", driver="GTiff", width=cube.shape[2], height=cube.shape[1],
                                   count=cube.shape[0], dtype="uint16", compress="deflate") as ds:
                    ds.write(cube)
    elif f.get("convert"):
        raise SystemExit(f"{dest.name}: unknown convert {f['convert']!r} (known: json-bands)")
    else:
        def write(tmp: Path) -> None:
            tmp.write_bytes(data)
    write_atomic(dest, write)
    return "written"


def fetch(spec: dict, root: Path, overwrite: bool = False) -> list[tuple[str, str]]:
    """Every file of ``spec`` under ``root / spec['folder']``; returns ``(path, "written" | "kept")``."""
    out = []
    folder = root / spec.get("folder", "pypi-rgbn")
    for pkg in spec["packages"]:
        wanted = {f["to"]: f for f in pkg["files"]}
        if all(present(folder / to, f) for to, f in wanted.items()):
            out += [(str(folder / to), "kept") for to in wanted]
            continue
        with tempfile.TemporaryDirectory() as tmp:
            archive = download(pkg["requirement"], pkg.get("dist", "sdist"), Path(tmp))
            if pkg.get("sha256") and sha256(archive.read_bytes()) != pkg["sha256"]:
                raise SystemExit(f"{archive.name}: sha256 {sha256(archive.read_bytes())}, the spec says {pkg['sha256']}")
            content = members(archive)
            for to, f in wanted.items():
                if f["member"] not in content:
                    raise SystemExit(f"{archive.name}: has no member {f['member']}")
                out.append((str(folder / to), place(content[f["member"]], folder / to, f, overwrite)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, type=Path, help="the data root (beside rasters-rgbn/ and geotiff/)")
    ap.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help=f"sources (default {DEFAULT_SPEC.name})")
    ap.add_argument("--overwrite", action="store_true", help="replace files whose bytes differ from the spec")
    args = ap.parse_args(argv)
    spec = yaml.safe_load(args.spec.read_text())
    for path, what in fetch(spec, args.root, args.overwrite):
        print(f"{what:8s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
