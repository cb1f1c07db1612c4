"""Scene manifests for multispectral rasters: which file and band holds each colour, how to scale it.

A *scene* is one place on one date: its bands live in one multi-band raster, in one file per band
(Sentinel-2 ``B04.jp2``, Landsat ``SR_B4.TIF``) or in a VRT. A manifest lists scenes (YAML or JSON):

.. code-block:: yaml

    version: 1
    include: [shared-rgbn]              # optional: other manifests' scenes first, same data root
    defaults: {fill_zero: false}        # optional; any scene key
    scenes:
      - name: naip-va                   # unique; names outputs and report rows
        group: naip                     # optional sensor family (for reading reports)
        split: test                     # optional: "test" holds the whole scene out of training,
                                        # "val" puts it in validation; default: decided by the dataset
        file: naip/m_3607717.tif        # optional default file for integer band numbers
        bands: {red: 1, green: 2, blue: 3, nir: 4}
        preset: aerial-8bit             # crossspec.data.rs_scaling (or custom + scale/offset)
        nodata: 0                       # optional: replaces the files' declared nodata
        fill_zero: true                 # optional: 0 in any band is fill (undeclared nodata)
      - name: s2-hdf5
        preset: s2-pre04
        file: s2/crop.mat               # an HDF5 / NetCDF container: name the dataset inside it
        subdataset: im10                # (a band given as {file, band, subdataset} may name its own)
        bands: {red: 1, green: 2, blue: 3, nir: 4}
      - name: s2-dolomites
        preset: s2-l2a
        bands:                          # one file per band: a path (band 1), [path, band] or {file, band}
          red: s2/B04.tif
          green: s2/B03.tif
          blue: s2/B02.tif
          nir: [s2/B08.tif, 1]

Band roles are free names; ``red``/``green``/``blue`` are the target, ``nir`` (and e.g. ``swir``)
inputs. ``R``, ``G``, ``B``, ``NIR``, ``SWIR`` are accepted as aliases. Relative paths are relative
to the data root given with the manifest (``--data``), else to the manifest's folder.

The JSON list of ``shared/data/rasters-rgbn/manifest.json`` (``channels: {R: [file, band], ...}``,
free-text ``scaling``) is read too: :func:`from_rgbn_manifest` converts it, mapping the scaling text
to a preset where it is unambiguous (``crossspec data rs-manifest`` writes the conversion as YAML
for review).

Nothing here keeps pixels: :class:`SceneReader` opens a scene's files for each windowed read, so
memory does not depend on how many scenes a manifest lists.
"""
from __future__ import annotations

import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from crossspec.data.rs_scaling import Radiometry, radiometry
from crossspec.errors import ConfigError, file_error
from crossspec.io.raster import RASTER_EXTENSIONS

TARGET_ROLES = ("red", "green", "blue")
ALIASES = {"r": "red", "g": "green", "b": "blue", "swir1": "swir", "swir16": "swir"}
# Named input band sets; a list of role names works too.
INPUT_SETS = {"nir": ("nir",), "nir+swir": ("nir", "swir"), "cir": ("nir", "red", "green")}
SPLITS = ("train", "val", "test")
SCENE_KEYS = {"name", "group", "split", "file", "bands", "preset", "scale", "offset", "gain", "input_gain",
              "nodata", "fill_zero", "note", "subdataset"}
PACKAGED = Path(__file__).with_name("manifests")


def role_name(name: str) -> str:
    n = str(name).strip().lower()
    return ALIASES.get(n, n)


def input_roles(spec: str | Iterable[str]) -> tuple[str, ...]:
    """``"nir"`` | ``"nir+swir"`` | ``"cir"`` | a list of roles -> role names (model ``in_channels`` = len)."""
    if isinstance(spec, str):
        if spec in INPUT_SETS:
            return INPUT_SETS[spec]
        roles = tuple(role_name(p) for p in re.split(r"[,+]", spec) if p.strip())
    else:
        roles = tuple(role_name(p) for p in spec)
    if not roles:
        raise ConfigError(f"input_bands: {spec!r} names no band; use nir, nir+swir, cir or a list of roles")
    if len(set(roles)) != len(roles):
        raise ConfigError(f"input_bands: {spec!r} names a band twice")
    return roles


@dataclass(frozen=True)
class BandRef:
    path: Path
    band: int  # 1-based
    subdataset: str = ""  # a dataset inside a container file (HDF5 ``im10``, NetCDF ``B04``); "" for the file itself

    @property
    def source(self) -> tuple[Path, str]:
        """What one open reads: the file, and the subdataset inside it ("" for none)."""
        return self.path, self.subdataset


@dataclass
class Scene:
    name: str
    bands: dict[str, BandRef]
    radiometry: Radiometry
    nodata: float | None = None  # replaces the files' declared nodata when set
    fill_zero: bool = False
    split: str | None = None
    group: str = ""

    def files(self) -> list[tuple[Path, str]]:
        """The distinct ``(file, subdataset)`` sources of the scene's bands."""
        return list(dict.fromkeys(b.source for b in self.bands.values()))

    def check_roles(self, roles: Iterable[str]) -> None:
        missing = [r for r in roles if r not in self.bands]
        if missing:
            raise ConfigError(f"scene {self.name!r}: has no {', '.join(missing)} band (it has "
                              f"{', '.join(self.bands)}); choose other input_bands or add the band to the manifest")


# ------------------------------------------------------------------------------------------ parsing
def _band_ref(spec: Any, default_file: str | None, base: Path, where: str, subdataset: Any = None) -> BandRef:
    if isinstance(spec, bool):
        raise ConfigError(f"{where}: expected a band number, a file, [file, band] or {{file, band}}, got {spec!r}")
    if isinstance(spec, int):
        if default_file is None:
            raise ConfigError(f"{where}: band number {spec} given but the scene has no 'file'")
        file, band = default_file, spec
    elif isinstance(spec, str):
        file, band = spec, 1
    elif isinstance(spec, (list, tuple)) and len(spec) == 2:
        file, band = spec
    elif isinstance(spec, dict) and "file" in spec:
        file, band = spec["file"], spec.get("band", 1)
        subdataset = spec.get("subdataset", subdataset)
    else:
        raise ConfigError(f"{where}: expected a band number, a file, [file, band] or {{file, band}}, got {spec!r}")
    if not isinstance(band, int) or band < 1:
        raise ConfigError(f"{where}: band must be a 1-based integer, got {band!r}")
    if subdataset is not None and not isinstance(subdataset, str):
        raise ConfigError(f"{where}: subdataset must be a name such as im10, got {subdataset!r}")
    path = Path(os.path.expanduser(str(file)))
    return BandRef(path if path.is_absolute() else base / path, band, (subdataset or "").strip("/"))


def _nodata(value: Any, where: str) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        return None
    try:
        return float(value)  # "nan" -> NaN
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: nodata must be a number, 'nan' or null, got {value!r}") from None


def parse_scene(entry: dict, base: Path, defaults: dict | None = None) -> Scene:
    """One manifest entry (merged over ``defaults``) -> :class:`Scene`; paths relative to ``base``."""
    e = {**(defaults or {}), **entry}
    name = e.get("name")
    if not name or not isinstance(name, str):
        raise ConfigError(f"manifest scene {entry!r}: needs a 'name'")
    where = f"scene {name!r}"
    unknown = sorted(set(e) - SCENE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(SCENE_KEYS))}")
    if not isinstance(e.get("bands"), dict) or not e["bands"]:
        raise ConfigError(f"{where}: needs 'bands', a mapping of role (red, green, blue, nir, ...) to band")
    bands = {}
    for role, spec in e["bands"].items():
        r = role_name(role)
        if r in bands:
            raise ConfigError(f"{where}: band {r!r} given twice")
        bands[r] = _band_ref(spec, e.get("file"), base, f"{where}, band {r}", e.get("subdataset"))
    missing = [r for r in TARGET_ROLES if r not in bands]
    if missing:
        raise ConfigError(f"{where}: lacks the target band(s) {', '.join(missing)}")
    split = e.get("split")
    if split is not None and split not in SPLITS:
        raise ConfigError(f"{where}: split must be one of {', '.join(SPLITS)} or absent, got {split!r}")
    rad = radiometry(e.get("preset"), scale=e.get("scale"), offset=e.get("offset"), gain=e.get("gain"),
                     input_gain=e.get("input_gain"), where=where)
    return Scene(name, bands, rad, _nodata(e.get("nodata"), where), bool(e.get("fill_zero", False)), split,
                 str(e.get("group") or ""))


def _read_document(path: Path) -> Any:
    import yaml

    if not path.is_file():
        raise file_error(path, "manifest not found")
    text = path.read_text()
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise file_error(path, f"is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} ({first})",
                         ConfigError) from None


def resolve_manifest_path(spec: str | os.PathLike) -> Path:
    """A manifest file path, or the name of one shipped in ``crossspec/data/manifests/``."""
    p = Path(os.path.expanduser(os.fspath(spec)))
    if p.exists() or p.suffix or os.sep in os.fspath(spec):
        return p
    packaged = PACKAGED / f"{spec}.yaml"
    if packaged.is_file():
        return packaged
    names = sorted(f.stem for f in PACKAGED.glob("*.yaml"))
    raise file_error(p, f"no such manifest file, nor a shipped manifest (shipped: {', '.join(names) or 'none'})",
                     ConfigError)


def load_manifest(spec: str | os.PathLike, root: str | os.PathLike | None = None, *,
                  _chain: tuple[Path, ...] = ()) -> list[Scene]:
    """Scenes of a manifest file (ours, or the rasters-rgbn JSON list); relative paths resolve
    against ``root`` when given, else the manifest's folder.

    ``include: [other, ...]`` (manifest names or paths; a relative path is relative to this
    manifest's folder) puts the other manifests' scenes first, read with the same ``root``; their
    ``defaults`` stay their own. A scene name may appear only once over all of them.
    """
    path = resolve_manifest_path(spec)
    if path.resolve() in _chain:
        raise file_error(path, "includes itself (through " + " -> ".join(p.name for p in _chain) + ")", ConfigError)
    doc = _read_document(path)
    base = Path(root).expanduser() if root is not None else path.parent
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "channels" in doc[0]:
        doc = from_rgbn_manifest(doc, strict=True, where=str(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("scenes", []), list):
        raise file_error(path, "expected a mapping with a 'scenes' list (or the rasters-rgbn JSON list)", ConfigError)
    includes = doc.get("include") or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise file_error(path, f"'include' must be a manifest name or path, or a list of them; got {includes!r}",
                         ConfigError)
    scenes = []
    for inc in includes:
        local = Path(os.path.expanduser(inc))
        if not local.is_absolute() and (local.suffix or os.sep in inc):
            inc = str(path.parent / local)
        scenes += load_manifest(inc, root, _chain=(*_chain, path.resolve()))
    if "scenes" not in doc and not includes:
        raise file_error(path, "expected a mapping with a 'scenes' list (or the rasters-rgbn JSON list)", ConfigError)
    defaults = doc.get("defaults") or {}
    scenes += [parse_scene(e, base, defaults) for e in doc.get("scenes") or []]
    names = [s.name for s in scenes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise file_error(path, f"scene name(s) used twice: {', '.join(dup)}", ConfigError)
    if not scenes:
        raise file_error(path, "lists no scenes", ConfigError)
    return scenes


def scenes_from_folder(folder: str | os.PathLike, bands: dict[str, int], preset: str, *, nodata: float | None = None,
                       fill_zero: bool = False, recursive: bool = True) -> list[Scene]:
    """Every raster in ``folder`` as one scene, with the same band layout and preset."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise file_error(folder, "folder not found")
    it = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(p for p in it if p.suffix.lower() in RASTER_EXTENSIONS and p.is_file() and not p.name.startswith("."))
    if not files:
        raise file_error(folder, f"holds no rasters ({', '.join(RASTER_EXTENSIONS)})")
    out = []
    for f in files:
        rel = f.relative_to(folder).with_suffix("").as_posix()
        out.append(parse_scene({"name": rel, "file": str(f), "bands": dict(bands), "preset": preset,
                                "nodata": nodata, "fill_zero": fill_zero}, folder))
    return out


# ------------------------------------------------- the rasters-rgbn manifest (shared/data) as ours
_RGBN_PRESETS = (  # (pattern in the free-text 'scaling', preset); first match wins
    (r"0\.0000275", "landsat-c2-l2"),
    (r"dn\s*[−-]\s*1000|offset\s*[−-]1000|add_offset\s*[−-]\s*1000", "s2-l2a"),
    (r"reflectance\s*0[–-]1", "reflectance"),
    (r"×\s*10000|x\s*10000|10000", "s2-pre04"),
    (r"11-bit", "dn-11bit"),
    (r"uint8", "dn-8bit"),
)


def guess_preset(scaling_text: str, sensor: str = "", dtype: str = "") -> str | None:
    """A preset for the free-text scaling of a rasters-rgbn entry, or None when not clear."""
    t = f"{scaling_text} {dtype}".lower()
    if "naip" in sensor.lower():
        return "aerial-8bit"
    if "oli" in sensor.lower() and "l1" in t:
        return "landsat-oli-l1"
    for pattern, preset in _RGBN_PRESETS:
        if re.search(pattern, t):
            return preset
    return None


def _stem(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", path.split(" ")[0]).strip("-")


def from_rgbn_manifest(entries: list[dict], strict: bool = False, where: str = "manifest") -> dict:
    """The rasters-rgbn ``manifest.json`` list as our manifest mapping.

    Entries whose bands are not raster files (``.mat``/``.npy``/``.npz`` arrays) are left out. With
    ``strict``, an entry whose scaling maps to no preset is an error; otherwise it gets
    ``preset: null`` and a note, to be filled in by hand.
    """
    scenes = []
    for e in entries:
        ch = e.get("channels") or {}
        refs = {k: v for k, v in ch.items() if k != "note"}
        if not refs or any("::" in str(v[0]) or Path(str(v[0])).suffix.lower() not in RASTER_EXTENSIONS
                           for v in refs.values()):
            continue
        preset = guess_preset(str(e.get("scaling", "")), str(e.get("sensor", "")), str(e.get("dtype", "")))
        if preset is None and strict:
            raise ConfigError(f"{where}: {e.get('path')}: cannot tell a scaling preset from {e.get('scaling')!r}; "
                              "convert with `crossspec data rs-manifest` and set it by hand")
        nd = e.get("nodata")
        scene = {"name": _stem(str(e.get("path") or refs["R"][0])),
                 "bands": {role_name(k): [str(v[0]), int(v[1])] for k, v in refs.items()},
                 "preset": preset,
                 "nodata": None if nd in (None, "none") else (None if isinstance(nd, float) and math.isnan(nd) else nd)}
        if "0 = " in str(e.get("scaling", "")) or "zero fill" in str(e.get("scaling", "")).lower():
            scene["fill_zero"] = True
        if preset is None:
            scene["note"] = f"set preset by hand; source says: {e.get('scaling')}"
        scenes.append(scene)
    return {"version": 1, "scenes": scenes}


# ------------------------------------------------------------------------------------------ reading
def _quiet_open(path: Path, target: str | Path | None = None):
    """``rasterio.open(target)`` (default: ``path``, the file that errors name)."""
    with warnings.catch_warnings():
        # arrays without georeferencing (plain TIFFs) are scenes in their own pixel grid
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        try:
            return rasterio.open(path if target is None else target)
        except rasterio.errors.RasterioIOError as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise file_error(path, f"cannot be read as a raster ({msg})") from None


def _open_target(path: Path, subdataset: str) -> str | Path:
    """What rasterio opens for ``(path, subdataset)``: the file, or GDAL's name of the subdataset in it."""
    if not subdataset:
        return path
    with _quiet_open(path) as container:
        names = list(container.subdatasets)
    # GDAL names them DRIVER:"file":name or DRIVER:file://name; match the part after the last colon
    found = [n for n in names if n.rsplit(":", 1)[-1].strip("/") == subdataset]
    if not found:
        listed = ", ".join(n.rsplit(":", 1)[-1].strip("/") for n in names) or "none"
        raise file_error(path, f"has no subdataset {subdataset!r} (it has: {listed})")
    return found[0]


@dataclass
class _FileInfo:
    height: int
    width: int
    count: int
    dtype: np.dtype
    nodata: tuple
    bounds: tuple[float, float, float, float]
    target: str | Path  # what rasterio opens: the file, or its subdataset (resolved once, not per read)


@dataclass
class SceneGrid:
    """A scene's reference pixel grid (that of its red band's file) and its files' headers."""

    height: int
    width: int
    res: float  # pixel size in CRS units (the larger of x/y), 1.0 without georeferencing
    crs: str | None
    files: dict[tuple[Path, str], _FileInfo] = field(default_factory=dict)  # by (file, subdataset)


def scene_grid(scene: Scene) -> SceneGrid:
    """Read the headers of ``scene``'s files (no pixels) and check that its bands share one footprint.

    Files at other resolutions but the same bounds (Sentinel-2 20 m SWIR beside 10 m NIR) are read
    onto the reference grid with ``out_shape``.
    """
    ref_source = scene.bands["red"].source
    infos: dict[tuple[Path, str], _FileInfo] = {}
    crs = None
    for source in scene.files():
        p, sub = source
        if not p.exists():
            raise file_error(p, f"no such file (scene {scene.name!r})")
        target = _open_target(p, sub)
        with _quiet_open(p, target) as ds:
            if ds.count == 0:
                raise file_error(p, f"holds no bands of its own (scene {scene.name!r}); name one of its "
                                    f"subdatasets with 'subdataset:' ({', '.join(ds.subdatasets) or 'none'})")
            infos[source] = _FileInfo(ds.height, ds.width, ds.count, np.dtype(ds.dtypes[0]), tuple(ds.nodatavals),
                                      tuple(ds.bounds), target)
            if source == ref_source:
                crs = ds.crs.to_string() if ds.crs else None
                res = float(max(abs(ds.res[0]), abs(ds.res[1]))) if ds.crs else 1.0
    for role, ref in scene.bands.items():
        if ref.band > infos[ref.source].count:
            raise file_error(ref.path, f"band {ref.band} ({role} of scene {scene.name!r}) does not exist "
                                       f"(the file has {infos[ref.source].count})")
    ref = infos[ref_source]
    for (p, _), info in infos.items():
        if (info.height, info.width) == (ref.height, ref.width):
            continue
        tol = 0.5 * max((ref.bounds[2] - ref.bounds[0]) / ref.width, 1e-9)
        if any(abs(a - b) > max(tol, abs((info.bounds[2] - info.bounds[0]) / info.width) * 0.5)
               for a, b in zip(info.bounds, ref.bounds)):
            raise file_error(p, f"is {info.width}x{info.height} px over other bounds than {ref_source[0].name} "
                                f"({ref.width}x{ref.height}); the bands of scene {scene.name!r} must cover one footprint")
    return SceneGrid(ref.height, ref.width, res, crs, infos)


class SceneReader:
    """Windowed reads of a scene's bands as display values plus one validity mask.

    ``read(roles, window, out_shape)``: ``window`` ``(row, col, h, w)`` in the reference grid (it
    may extend past the scene; the outside is nodata), ``out_shape`` ``(H, W)`` the size to return
    (resampled with ``resampling`` when it differs from ``(h, w)``). Returns ``values (len(roles),
    H, W)`` float32 in [0, 1] (0 where invalid) and ``valid (H, W)`` bool: a pixel is valid when
    every band read is valid there (not the nodata value, finite, not 0 with ``fill_zero``).
    ``kind`` "target" (RGB display gain) or "input" (input gain): see :mod:`crossspec.data.rs_scaling`.
    """

    def __init__(self, scene: Scene, grid: SceneGrid, resampling: str = "nearest") -> None:
        self.scene, self.grid = scene, grid
        try:
            self.resampling = Resampling[resampling]
        except KeyError:
            raise ConfigError(f"resampling: {resampling!r} is not a rasterio resampling "
                              "(nearest, bilinear, average, ...)") from None

    def _band_valid(self, raw: np.ndarray, info: _FileInfo, band: int) -> np.ndarray:
        nodata = self.scene.nodata if self.scene.nodata is not None else info.nodata[band - 1]
        valid = np.ones(raw.shape, bool)
        if raw.dtype.kind == "f":
            valid &= np.isfinite(raw)
        if nodata is not None and not math.isnan(nodata):
            # float nodata like -3.4e38 is stored rounded: compare at the band's precision
            valid &= raw != np.asarray(nodata, dtype=raw.dtype)
        if self.scene.fill_zero:
            valid &= raw != 0
        return valid

    def read(self, roles: Iterable[str], window: tuple[int, int, int, int], out_shape: tuple[int, int] | None = None,
             kind: str = "target") -> tuple[np.ndarray, np.ndarray]:
        roles = list(roles)
        row, col, h, w = window
        H, W = out_shape if out_shape is not None else (h, w)
        # the part of the window inside the scene, and where it lands in the output
        r0, c0 = max(row, 0), max(col, 0)
        r1, c1 = min(row + h, self.grid.height), min(col + w, self.grid.width)
        values = np.zeros((len(roles), H, W), np.float32)
        valid = np.zeros((H, W), bool)
        if r1 <= r0 or c1 <= c0:
            return values, valid
        sy, sx = H / h, W / w
        oy0, ox0 = round((r0 - row) * sy), round((c0 - col) * sx)
        oy1, ox1 = round((r1 - row) * sy), round((c1 - col) * sx)
        inner = (oy1 - oy0, ox1 - ox0)
        ok = np.ones(inner, bool)
        by_file: dict[tuple[Path, str], list[tuple[int, str, int]]] = {}
        for i, role in enumerate(roles):
            ref = self.scene.bands[role]
            by_file.setdefault(ref.source, []).append((i, role, ref.band))
        for source, items in by_file.items():
            path, info = source[0], self.grid.files[source]
            fy, fx = info.height / self.grid.height, info.width / self.grid.width
            win = Window(c0 * fx, r0 * fy, (c1 - c0) * fx, (r1 - r0) * fy)
            with _quiet_open(path, info.target) as ds:
                try:
                    raw = ds.read([b for _, _, b in items], window=win, out_shape=(len(items), *inner),
                                  resampling=self.resampling)
                except rasterio.errors.RasterioIOError as exc:
                    raise file_error(path, f"cannot read a window: the file is truncated or corrupt ({exc})") from None
            for (i, role, band), r in zip(items, raw):
                ok &= self._band_valid(r, info, band)
                values[i, oy0:oy1, ox0:ox1] = self.scene.radiometry.display(r, kind)
        # np.where, not a product: NaN nodata times 0 is still NaN
        values[:, oy0:oy1, ox0:ox1] = np.where(ok, values[:, oy0:oy1, ox0:ox1], 0.0)
        valid[oy0:oy1, ox0:ox1] = ok
        return values, valid


__all__ = ["BandRef", "INPUT_SETS", "Scene", "SceneGrid", "SceneReader", "TARGET_ROLES", "from_rgbn_manifest",
           "guess_preset", "input_roles", "load_manifest", "parse_scene", "scene_grid", "scenes_from_folder"]
