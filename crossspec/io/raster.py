"""Georeferenced rasters (rasterio): band selection, explicit scaling, nodata, windows, output profiles.

Nothing here knows about models. Values cross this boundary as float32 in [0, 1] plus a boolean
validity mask; what becomes [0, 1] is decided by a :class:`Scaling` the user chose (or by the
band's dtype), never by guessing from the data's maximum.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.windows import Window

from crossspec.errors import ConfigError, DataError, file_error

RASTER_EXTENSIONS = (".tif", ".tiff", ".vrt", ".img", ".jp2")
OUTPUT_DTYPES = ("uint8", "uint16", "float32")
# Deflate level of GeoTIFF outputs. GDAL's default (6) made compression half the time of a
# nir-gain colorize run; level 1 writes a 4096² RGB raster 3.5x faster for files ~9% larger
# (same pixels: the level only changes how hard zlib searches for matches).
DEFLATE_LEVEL = 1
# Statistics (minmax / percentile) come from a decimated read of at most this many pixels, so
# their memory does not grow with the raster.
STATS_MAX_PIXELS = 1 << 20


# ----------------------------------------------------------------------------------------- scaling
@dataclass(frozen=True)
class Scaling:
    """How raw band values become [0, 1].

    kind:
      ``"dtype"``      uint8 -> v/255, uint16 -> v/65535; other dtypes need an explicit scaling.
      ``"factor"``     (v + offset) / factor, e.g. reflectance ``10000`` (Sentinel-2 L2A since
                       baseline 04.00 also needs ``offset=-1000``).
      ``"range"``      (v - lo) / (hi - lo) for a fixed ``lo, hi``.
      ``"minmax"``     like range, with lo/hi = min/max of the valid pixels.
      ``"percentile"`` like range, with lo/hi = the ``p_lo``/``p_hi`` percentiles of the valid pixels.
    Results are clipped to [0, 1]. ``offset`` is added to raw values before any kind.
    """

    kind: str = "dtype"
    factor: float = 1.0
    lo: float = 0.0
    hi: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        # NaN or infinite values turn every pixel into the same clipped value (blank output).
        for name, value in (("--offset", self.offset), ("--scale", self.factor), ("--scale", self.lo),
                            ("--scale", self.hi)):
            if not math.isfinite(value):
                raise ConfigError(f"{name}: {value!r} is not a finite number")

    @classmethod
    def parse(cls, text: str | None, offset: float = 0.0) -> "Scaling":
        """Parse ``--scale``: ``None``/``"dtype"``, ``"10000"``, ``"minmax"``, ``"percentile:2,98"``, ``"range:0,255"``."""
        if not math.isfinite(offset):
            raise ConfigError(f"--offset: {offset!r} is not a finite number")
        if text is None or text.strip() in ("", "dtype"):
            return cls("dtype", offset=offset)
        t = text.strip().lower()
        if t == "minmax":
            return cls("minmax", offset=offset)
        m = re.fullmatch(r"(percentile|range):\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)", t)
        if m:
            try:
                lo, hi = float(m.group(2)), float(m.group(3))
            except ValueError:
                lo = hi = math.nan
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ConfigError(f"--scale: {text!r} needs two finite numbers lo < hi")
            if not (lo < hi):
                raise ConfigError(f"--scale: {text!r} needs two numbers lo < hi")
            if m.group(1) == "percentile" and not (0 <= lo and hi <= 100):
                raise ConfigError(f"--scale: percentiles in {text!r} must lie in [0, 100]")
            return cls(m.group(1), lo=lo, hi=hi, offset=offset)
        try:
            factor = float(t)
        except ValueError:
            raise ConfigError(
                f"--scale: cannot read {text!r}; expected a reflectance factor (e.g. 10000), "
                "'minmax', 'percentile:2,98' or 'range:0,255'"
            ) from None
        if not (factor > 0 and math.isfinite(factor)):
            raise ConfigError(f"--scale: the factor must be a positive number, got {text!r}")
        return cls("factor", factor=factor, offset=offset)

    def describe(self) -> str:
        off = f" offset {self.offset:+g}" if self.offset else ""
        if self.kind == "factor":
            return f"v/{self.factor:g}{off}"
        if self.kind in ("range", "percentile"):
            return f"{self.kind}:{self.lo:g},{self.hi:g}{off}"
        return self.kind + off


@dataclass(frozen=True)
class LinearMap:
    """``out = clip(raw * gain + bias, 0, 1)``: a resolved :class:`Scaling` for one band."""

    gain: float
    bias: float

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """``raw`` any numeric array -> float32 of the same shape in [0, 1]."""
        out = raw.astype(np.float32, copy=True)
        out *= np.float32(self.gain)
        out += np.float32(self.bias)
        np.clip(out, 0.0, 1.0, out=out)
        return out


def _map_from_range(path, lo: float, hi: float, what: str) -> LinearMap:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise file_error(path, f"{what} gives an empty value range [{lo:g}, {hi:g}]; choose another --scale")
    return LinearMap(1.0 / (hi - lo), -lo / (hi - lo))


# ----------------------------------------------------------------------------------------- opening
# GDAL virtual file systems (/vsicurl/, /vsis3/, /vsizip/, /vsimem/...) and subdatasets
# (HDF5:"f.h5"://x, NETCDF:"f.nc":var); a single letter before ':' is a Windows drive, not a driver.
_SUBDATASET = re.compile(r"^[A-Z][A-Z0-9_]+:")


def is_gdal_path(path: str | os.PathLike) -> bool:
    """True for a path only GDAL can resolve (virtual file system or subdataset), not a local file."""
    text = os.fspath(path)
    return text.startswith("/vsi") or bool(_SUBDATASET.match(text))


def gdal_stem(path: str) -> str:
    """The name an output of a GDAL path gets: its last component without suffix or query."""
    text = path.split("?", 1)[0]
    m = _SUBDATASET.match(text)
    if m:
        text = text[m.end():].rsplit(":", 1)[-1]
    name = text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].strip('"')
    return Path(name).stem or "raster"


def _quiet_open(path):
    import warnings

    # Plain TIFFs and images carry no georeferencing; that is expected here, not worth a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        return rasterio.open(path)


def open_raster(path: str | os.PathLike) -> rasterio.io.DatasetReader:
    """Open ``path`` (a file or a GDAL path) for reading; a missing, empty or unreadable file raises
    :class:`DataError`."""
    p = os.fspath(path) if is_gdal_path(path) else Path(path)
    if isinstance(p, Path):
        if not p.exists():
            raise file_error(p, "no such file")
        if p.is_file() and p.stat().st_size == 0:
            raise file_error(p, "is empty (0 bytes)")
    try:
        ds = _quiet_open(p)
    except rasterio.errors.RasterioIOError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise file_error(p, f"cannot be read as a raster ({msg})") from None
    if ds.width < 2 or ds.height < 2:
        ds.close()
        raise file_error(p, f"is {ds.width}x{ds.height} pixels; at least 2x2 is needed")
    return ds


def _header(path: str | os.PathLike) -> tuple[object, int] | None:
    """``(crs, band count)`` of a GDAL path or a file with a raster extension; ``None`` for other
    files and for anything unreadable (the reader that opens it for real reports why)."""
    if not is_gdal_path(path) and Path(path).suffix.lower() not in RASTER_EXTENSIONS:
        return None
    try:
        with _quiet_open(path) as ds:
            return ds.crs, ds.count
    except Exception:  # noqa: BLE001  unreadable: not a raster for our purposes
        return None


def is_georeferenced_raster(path: str | os.PathLike) -> bool:
    """True for a raster file the CLI treats as GeoTIFF: it has a CRS, or more than one band
    that is not plain RGB(A) photography. GDAL paths always are. Unreadable files return False
    (the image reader reports them)."""
    if is_gdal_path(path):
        return True
    header = _header(path)
    return header is not None and (header[0] is not None or header[1] > 1)


def has_crs(path: str | os.PathLike) -> bool:
    """True for a raster with a coordinate reference system (map-projected: aerial or satellite
    imagery, for choosing a default model); False for anything else, unreadable files included."""
    header = _header(path)
    return header is not None and header[0] is not None


def check_band(ds: rasterio.io.DatasetReader, band: int | None) -> int:
    """Validate a 1-based band index; ``None`` means band 1 of a single-band raster."""
    if band is None:
        if ds.count != 1:
            raise file_error(
                ds.name,
                f"has {ds.count} bands; choose the near-infrared / gray one with -b/--band N (1-based)",
            )
        return 1
    if not 1 <= band <= ds.count:
        count = "1 band" if ds.count == 1 else f"bands 1..{ds.count}"
        raise file_error(ds.name, f"band {band} does not exist (the raster has {count})")
    return band


# ------------------------------------------------------------------------------------------ source
def _gdal_reason(exc: Exception) -> str:
    """GDAL's own message behind rasterio's "Read failed. See previous exception", on one line."""
    cause = exc.__cause__ or exc.__context__ or exc
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    # GDAL prefixes "<file>, band N: "; the file is named once already.
    return re.sub(r"^.*?, band \d+: ", "", text)


class RasterBand:
    """One band of an open raster, read window by window as float32 [0, 1] plus a validity mask.

    ``nodata`` overrides the file's nodata value; pixels equal to it, NaN pixels and pixels the
    dataset mask marks invalid are invalid: they never enter statistics and stay nodata in outputs.
    """

    def __init__(self, ds: rasterio.io.DatasetReader, band: int | None, scaling: Scaling,
                 nodata: float | None = None) -> None:
        self.ds = ds
        self.band = check_band(ds, band)
        self.scaling = scaling
        self.nodata = nodata if nodata is not None else ds.nodatavals[self.band - 1]
        self.dtype = np.dtype(ds.dtypes[self.band - 1])
        flags = ds.mask_flag_enums[self.band - 1]
        # A per-dataset or alpha mask must be read; "all valid" and "nodata" masks we handle ourselves.
        self._read_mask = MaskFlags.per_dataset in flags or MaskFlags.alpha in flags
        self.may_have_invalid = (self.nodata is not None or self._read_mask
                                 or self.dtype.kind == "f")
        self.map = self._resolve()

    @property
    def height(self) -> int:
        return self.ds.height

    @property
    def width(self) -> int:
        return self.ds.width

    def _valid(self, raw: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        valid = np.ones(raw.shape, dtype=bool) if mask is None else mask > 0
        if self.nodata is not None and not (isinstance(self.nodata, float) and math.isnan(self.nodata)):
            if self.dtype.kind == "f":
                # Float nodata like -3.4e38 is stored rounded; compare at the band's precision.
                valid &= raw != np.asarray(self.nodata, dtype=self.dtype)
            else:
                valid &= raw != self.nodata
        if self.dtype.kind == "f":
            valid &= np.isfinite(raw)
        return valid

    def read_raw(self, window: Window | None = None, out_shape: tuple[int, int] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Raw values ``(h, w)`` in the band's dtype and validity ``(h, w)`` bool."""
        kw = {}
        if out_shape is not None:
            kw = {"out_shape": out_shape, "resampling": Resampling.nearest}
        try:
            raw = self.ds.read(self.band, window=window, **kw)
            mask = self.ds.read_masks(self.band, window=window, **kw) if self._read_mask else None
        except rasterio.errors.RasterioIOError as exc:
            raise file_error(self.ds.name, f"cannot read band {self.band}: the file is truncated or corrupt "
                                           f"({_gdal_reason(exc)})") from None
        return raw, self._valid(raw, mask)

    def read(self, window: Window | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scaled values ``(h, w)`` float32 in [0, 1] (0 where invalid) and validity ``(h, w)`` bool."""
        raw, valid = self.read_raw(window)
        data = self.map.apply(raw)
        data[~valid] = 0.0
        return data, valid

    def sample_valid(self, max_pixels: int = STATS_MAX_PIXELS) -> np.ndarray:
        """Valid raw values (1-D float64) from a decimated read of at most ``max_pixels`` pixels.

        GDAL serves decimated reads from overviews when the file has them, so memory stays flat.
        """
        h, w = self.ds.height, self.ds.width
        step = max(1.0, math.sqrt(h * w / max_pixels))
        shape = (max(1, int(h / step)), max(1, int(w / step)))
        raw, valid = self.read_raw(out_shape=shape)
        return raw[valid].astype(np.float64)

    def _resolve(self) -> LinearMap:
        s = self.scaling
        name = self.ds.name
        if s.kind == "dtype":
            if self.dtype == np.uint8:
                scale = 255.0
            elif self.dtype == np.uint16:
                scale = 65535.0
            else:
                raise file_error(
                    name,
                    f"band {self.band} is {self.dtype}; say how its values map to [0, 1] with --scale "
                    "(a reflectance factor like 10000, 'percentile:2,98', 'minmax' or 'range:LO,HI')",
                    ConfigError,
                )
            return LinearMap(1.0 / scale, s.offset / scale)
        if s.kind == "factor":
            return LinearMap(1.0 / s.factor, s.offset / s.factor)
        if s.kind == "range":
            m = _map_from_range(name, s.lo, s.hi, f"--scale {s.describe()}")
            return LinearMap(m.gain, m.bias + s.offset * m.gain)
        values = self.sample_valid()
        if values.size == 0:
            raise file_error(name, f"band {self.band} has no valid pixels (everything is nodata/masked)")
        values += s.offset
        if s.kind == "minmax":
            lo, hi = float(values.min()), float(values.max())
        else:
            lo, hi = (float(v) for v in np.percentile(values, [s.lo, s.hi]))
        m = _map_from_range(name, lo, hi, f"--scale {s.describe()}")
        return LinearMap(m.gain, m.bias + s.offset * m.gain)

    def check_has_valid(self) -> None:
        """Raise :class:`DataError` when a decimated look finds no valid pixel at all."""
        if not self.may_have_invalid:
            return
        if self.sample_valid().size == 0:
            raise file_error(self.ds.name, f"band {self.band} has no valid pixels (everything is nodata/masked)")


# ------------------------------------------------------------------------------------------ output
def _block_size(ds: rasterio.io.DatasetReader) -> int:
    """Keep the source's square tiled block size when it is a valid GeoTIFF tile; else 512 (256 for small rasters)."""
    bh, bw = ds.block_shapes[0]
    if ds.profile.get("tiled") and bh == bw and bh % 16 == 0 and 16 <= bh <= 4096:
        return bh
    return 512 if min(ds.width, ds.height) >= 1024 else 256


def output_profile(ds: rasterio.io.DatasetReader, dtype: str = "uint8", masked: bool = False) -> dict:
    """A 3-band GeoTIFF profile matching ``ds``'s grid: CRS, transform, size, tiled block layout.

    ``masked`` output: float32 uses NaN as nodata; integer outputs carry an internal mask band
    (written with :func:`write_rgb`), so no valid colour value has to be given up for nodata.
    """
    if dtype not in OUTPUT_DTYPES:
        raise ConfigError(f"--dtype: {dtype!r} is not one of {', '.join(OUTPUT_DTYPES)}")
    block = _block_size(ds)
    profile = {
        "driver": "GTiff",
        "width": ds.width,
        "height": ds.height,
        "count": 3,
        "dtype": dtype,
        "crs": ds.crs,
        "transform": ds.transform,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "interleave": "pixel",
        "compress": str(ds.profile.get("compress") or "deflate").lower(),
        "bigtiff": "if_safer",
    }
    if dtype != "float32" and profile["compress"] in ("deflate", "lzw", "zstd"):
        profile["predictor"] = 2
    if profile["compress"] == "deflate":
        profile["zlevel"] = DEFLATE_LEVEL
    if masked and dtype == "float32":
        profile["nodata"] = float("nan")
    return profile


def encode(rgb: np.ndarray, dtype: str) -> np.ndarray:
    """``(3, h, w)`` float in [0, 1] -> the output dtype (integers rounded to the full range)."""
    if dtype == "float32":
        return np.clip(rgb, 0, 1).astype(np.float32, copy=False)
    top = 255.0 if dtype == "uint8" else 65535.0
    # The same float32 operations as rint(clip(rgb) * top), without a temporary per step.
    out = np.clip(rgb, 0, 1)
    out *= top
    return np.rint(out, out=out).astype(dtype)


class RasterWriter:
    """Writes an RGB raster window by window; open with :meth:`open` as a context manager.

    The file is a tiled GeoTIFF with red/green/blue colour interpretation, the source's tags and
    band descriptions ``red``, ``green``, ``blue``.
    """

    def __init__(self, path: str | os.PathLike, src: rasterio.io.DatasetReader, dtype: str = "uint8",
                 masked: bool = False, tags: dict | None = None) -> None:
        self.path = Path(path)
        self.dtype = dtype
        self.masked = masked
        self.profile = output_profile(src, dtype, masked)
        self._tags = {**src.tags(), **(tags or {})}
        self.dst = None

    def __enter__(self) -> "RasterWriter":
        # An internal mask band (not a .msk side file) so the output is one self-contained file.
        self._env = rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True)
        self._env.__enter__()
        try:
            import warnings

            with warnings.catch_warnings():
                # a source without georeferencing gives an output without it; nothing to warn about
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                self.dst = rasterio.open(self.path, "w", **self.profile)
            self.dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
            self.dst.update_tags(**self._tags)
            self.dst.descriptions = ("red", "green", "blue")
        except Exception:
            self._env.__exit__(None, None, None)
            raise
        return self

    @property
    def block_height(self) -> int:
        return self.profile["blockysize"]

    def write(self, rgb: np.ndarray, valid: np.ndarray | None, row_off: int, col_off: int = 0) -> None:
        """Write ``rgb`` ``(3, h, w)`` float in [0, 1] at rows ``row_off..+h``, columns ``col_off..+w``;
        ``valid`` ``(h, w)`` bool marks pixels that are not nodata."""
        h, w = rgb.shape[1:]
        window = Window(col_off, row_off, w, h)
        if self.masked and valid is not None and self.dtype == "float32":
            rgb = np.where(valid[None], rgb, np.nan)
            self.dst.write(rgb.astype(np.float32), window=window)
        else:
            self.dst.write(encode(rgb, self.dtype), window=window)
        if self.masked and self.dtype != "float32":
            m = np.full((h, w), 255, np.uint8) if valid is None else valid.astype(np.uint8) * 255
            self.dst.write_mask(m, window=window)

    def __exit__(self, *exc) -> None:
        try:
            if self.dst is not None:
                self.dst.close()
        finally:
            self._env.__exit__(*exc)


def to_cog(src_path: str | os.PathLike, dst_path: str | os.PathLike) -> None:
    """Copy a GeoTIFF into a Cloud-Optimized GeoTIFF (overviews, tiled, deflate)."""
    import rasterio.shutil

    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        rasterio.shutil.copy(src_path, dst_path, driver="COG", compress="deflate", overviews="auto")


__all__ = [
    "OUTPUT_DTYPES", "RASTER_EXTENSIONS", "LinearMap", "RasterBand", "RasterWriter", "Scaling",
    "check_band", "encode", "has_crs", "is_georeferenced_raster", "open_raster", "output_profile", "to_cog",
    "DataError",
]
