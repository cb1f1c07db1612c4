"""A loaded colorizer that keeps its weights: ``crossspec.load_colorizer(...)``.

>>> import crossspec
>>> col = crossspec.load_colorizer()                 # the shipped default NIR model
>>> rgb = col.colorize(nir)                          # (H, W) array -> (H, W, 3) float32 in [0, 1]
>>> rgb = col.colorize("scene.tif", band=4, scale="10000")
>>> da_rgb = col.colorize(da)                        # xarray.DataArray (y, x) -> (band, y, x), georeferencing kept
>>> col.colorize("night.png", out="rgb/night.png")   # writes the file (atomically) and returns its path
>>> hinted = crossspec.load_colorizer("runs/zhang17").colorize("scene.tif", hints="lake.csv")  # colour hints

The model is loaded once, in :func:`load_colorizer`; every call reuses it.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch.nn as nn

from crossspec.errors import ConfigError
from crossspec.inference.input_image import to_unit_single
from crossspec.inference.predict import check_domain, check_work_scale, load_for_inference, make_predictor
from crossspec.inference.tiling import check_tiling
from crossspec.io.raster import Scaling
from crossspec.models import model_info

log = logging.getLogger("crossspec")


def default_model_name(domain: str, imagery: str = "photo") -> str:
    """The shipped model used when none is named, for ``imagery`` ("photo" or "overhead"); an
    overhead request falls back to the photo default when no overhead model ships. A clear error when
    the package ships none."""
    from crossspec.models.registry import default_pretrained, pretrained_names

    name = default_pretrained(domain, imagery)
    if name is None and imagery != "photo":
        name = default_pretrained(domain)
    if name is None:
        shipped = pretrained_names(domain)
        hint = f" (shipped for {domain}: {', '.join(shipped)})" if shipped else ""
        raise ConfigError(f"no default shipped {domain} model{hint}; pass --model NAME or --checkpoint CKPT "
                          "(see `crossspec models`)")
    return name


class Colorizer:
    """A colorizer in eval mode on its device, with its tile predictor built once.

    Attributes: ``model`` (the ``nn.Module``), ``name`` (what it was loaded from), ``domain``
    (``"nir"`` or ``"gray"``), ``tta``, ``work_scale`` (run the model at this fraction of the
    input's resolution and bring the colours back along the input's edges:
    :func:`crossspec.inference.predict.make_predictor`). :meth:`colorize` takes an array, a file
    path or an ``xarray.DataArray`` and returns the same kind (a path gives an array unless ``out``
    is given).
    """

    def __init__(self, model: nn.Module, *, name: str, domain: str = "nir", tta: str = "none",
                 work_scale: float = 1.0) -> None:
        check_domain(model, domain)
        self.model, self.name, self.domain, self.tta = model, name, domain, tta
        self.work_scale = check_work_scale(work_scale)
        self._predict = make_predictor(model, domain, tta=tta, work_scale=self.work_scale)
        self._predict_hinted = None  # built on the first call with hints

    def _predictor(self, hints: Any) -> Any:
        if hints is None:
            return self._predict
        if self._predict_hinted is None:
            # a work scale below 1 is refused here with hints, not dropped
            self._predict_hinted = make_predictor(self.model, self.domain, tta=self.tta, hinted=True,
                                                  work_scale=self.work_scale)
        return self._predict_hinted

    def __repr__(self) -> str:
        return (f"Colorizer({self.name!r}, domain={self.domain!r}, tta={self.tta!r}"
                + (f", work_scale={self.work_scale:g})" if self.work_scale != 1 else ")"))

    def colorize(self, source: Any, *, band: int | None = None, scale: str | Scaling | None = None,
                 offset: float = 0.0, nodata: float | None = None, tile: int = 512, overlap: int = 64,
                 margin: int | None = None, batch_size: int | None = None, allow_clipping: bool = False,
                 out: str | os.PathLike | None = None, overwrite: bool = False, hints: Any = None) -> Any:
        """Colorize one single-band NIR or gray image.

        ``hints`` (models that take colour hints, e.g. ``zhang17``): a hint file (CSV, see
        :mod:`crossspec.io.hint_file`: pixel ``x,y`` or, for georeferenced rasters and DataArrays,
        map ``east,north`` coordinates, with ``r,g,b``), a parsed ``HintFile``, or a
        :class:`~crossspec.ops.hint_map.HintMap` of the image's size. Other models refuse them.

        ``source``:
        - a NumPy array ``(H, W)`` / ``(H, W, 1)`` (uint8, uint16, or float in [0, 1], NaN = nodata)
          -> ``(H, W, 3)`` float32 in [0, 1], NaN where the input is nodata;
        - a file or GDAL path (``band``, ``scale``/``offset``, ``nodata`` as for ``crossspec
          colorize``) -> the same array, or, with ``out``, the written file's path (a GeoTIFF for
          rasters, an image otherwise; streamed, atomic, never overwritten unless ``overwrite``);
        - an ``xarray.DataArray`` with dims ``(y, x)`` or ``(band, y, x)`` (one band, or pick it with
          ``band``) -> a DataArray ``(band, y, x)`` with bands R, G, B, the same coordinates and
          attributes, and the CRS when rioxarray georeferencing is present.
        """
        from crossspec.inference.colorize import colorize_array, colorize_file
        from crossspec.inference.hints import hint_map_for, load_hints, raster_transform

        check_tiling(tile, overlap, margin)
        hints = load_hints(hints)
        predict = self._predictor(hints)
        kw = dict(tile=tile, overlap=overlap, margin=margin, batch_size=batch_size)
        if isinstance(source, np.ndarray):
            data, valid = to_unit_single(source, "array")
            return colorize_array(data, valid, predict, hints=hint_map_for(hints, *data.shape[:2]), **kw)
        if _is_dataarray(source):
            return self._colorize_dataarray(source, band, hints=hints, **kw)
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"colorize takes an array, a path or an xarray.DataArray, not {type(source).__name__}")
        scaling = scale if isinstance(scale, Scaling) else Scaling.parse(scale, offset)
        if out is not None:
            return colorize_file(source, out, predict, band=band, scaling=scaling, nodata=nodata,
                                 overwrite=overwrite, allow_clipping=allow_clipping, hints=hints, **kw)
        from crossspec.inference.source import open_source

        with open_source(source, band=band, scaling=scaling, nodata=nodata, allow_clipping=allow_clipping) as src:
            data, valid = src.read()
            transform = raster_transform(src.band.ds) if src.kind == "raster" else None
        return colorize_array(data, valid, predict, hints=hint_map_for(hints, *data.shape[:2], transform), **kw)

    def _colorize_dataarray(self, da: Any, band: int | None, hints: Any = None, **kw: Any) -> Any:
        import xarray as xr

        from crossspec.inference.hints import hint_map_for

        if da.ndim == 3:
            bands = da.sizes[da.dims[0]]
            if band is None and bands != 1:
                raise ValueError(f"DataArray has {bands} bands along {da.dims[0]!r}; pick one with band=")
            da = da.isel({da.dims[0]: (band or 1) - 1})
        elif band not in (None, 1):
            raise ValueError(f"DataArray has one band; band={band} does not exist")
        if da.ndim != 2:
            raise ValueError(f"expected a DataArray with dims (y, x) or (band, y, x), got {da.dims}")
        values = np.asarray(da.values)
        fill = da.attrs.get("_FillValue", da.rio.nodata if _has_rio(da) else None)
        valid = None
        if fill is not None and values.dtype.kind == "f":
            values = np.where(values == fill, np.nan, values)
        elif fill is not None:
            valid = values != fill
            values = np.where(valid, values, 0).astype(values.dtype)
        data, ok = _to_unit_single_masked(values, valid)
        from crossspec.inference.colorize import colorize_array

        transform = da.rio.transform() if hints is not None and _has_rio(da) and da.rio.crs is not None else None
        hint_map = hint_map_for(hints, *data.shape[:2], transform)
        rgb = np.moveaxis(colorize_array(data, ok, self._predictor(hints), hints=hint_map, **kw), -1, 0)
        ydim, xdim = da.dims
        coords = {k: v for k, v in da.coords.items() if set(v.dims) <= {ydim, xdim}}
        result = xr.DataArray(rgb, dims=("band", ydim, xdim), coords={**coords, "band": [1, 2, 3]},
                              attrs={k: v for k, v in da.attrs.items() if k != "_FillValue"},
                              name=f"{da.name or 'input'}_rgb")
        result.attrs["long_name"] = ("red", "green", "blue")
        if _has_rio(da) and da.rio.crs is not None:
            result = result.rio.write_crs(da.rio.crs).rio.write_transform(da.rio.transform())
        return result.rio.write_nodata(np.nan) if _has_rio(da) else result


def _to_unit_single_masked(values: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    data, ok = to_unit_single(values, "DataArray")
    return data, ok if valid is None else ok & valid


def _is_dataarray(obj: Any) -> bool:
    return type(obj).__name__ == "DataArray" and type(obj).__module__.startswith("xarray")


def _has_rio(da: Any) -> bool:
    # rioxarray registers the .rio accessor on import; it stays optional
    import importlib.util

    if importlib.util.find_spec("rioxarray") is None:
        return False
    import rioxarray  # noqa: F401  (importing it registers the .rio accessor)

    return True


def load_colorizer(model: str | os.PathLike | nn.Module | None = None, *, device: str | None = "auto",
                   domain: str = "nir", tta: str = "none", work_scale: float = 1.0,
                   imagery: str = "photo") -> Colorizer:
    """Load a colorizer once and keep it: a shipped or registered model name, a run folder or
    checkpoint file, or a module; ``None`` takes the shipped default for ``domain`` and ``imagery``
    (``"photo"``, or ``"overhead"`` for aerial and satellite rasters)."""
    if model is None:
        model = default_model_name(domain, imagery)
    net = load_for_inference(model if isinstance(model, nn.Module) else str(model), None, device)
    if isinstance(model, nn.Module):
        info = model_info(model)
        name = info.name if info is not None else type(model).__name__
    else:
        name = str(model)
    return Colorizer(net, name=name, domain=domain, tta=tta, work_scale=work_scale)


def colorize(source: "np.ndarray | str | os.PathLike", *, model: "nn.Module | str | None" = None,
             checkpoint: str | None = None, domain: str = "nir", band: int | None = None,
             scale: str | Scaling | None = None, offset: float = 0.0, nodata: float | None = None,
             tile: int = 512, overlap: int = 64, margin: int | None = None, batch_size: int | None = None,
             device: str | None = "auto", tta: str = "none", allow_clipping: bool = False,
             hints: Any = None, work_scale: float = 1.0) -> np.ndarray:
    """Colorize one single-band NIR or gray image.

    ``source``: an array ``(H, W)`` / ``(H, W, 1)`` (uint8, uint16, or float in [0, 1] with NaN as
    nodata), an image file, a raster or a GDAL path (``band`` 1-based, ``scale``/``offset``/``nodata``
    as for the CLI; giving any of them reads the file as a raster: :mod:`crossspec.inference.source`).
    ``model``: a module, a registered or shipped name, a run dir or a checkpoint (or ``checkpoint=``);
    neither gives the shipped default model for ``domain``: the overhead one (when one ships) for a
    raster with a CRS, else the photo one. To colorize many images, load the model
    once with :func:`crossspec.load_colorizer` instead.
    ``tta="hflip"`` averages with the prediction for the mirrored image (twice the compute).
    ``hints``: colour hints for models that take them (see :meth:`Colorizer.colorize`).
    ``work_scale``: see :class:`Colorizer`.
    Returns ``(H, W, 3)`` float32 in [0, 1], NaN where the input is nodata. For rasters too large
    for memory, use :func:`colorize_file`, which streams to disk.
    """
    check_tiling(tile, overlap, margin)
    chosen = checkpoint if checkpoint is not None else model
    imagery = "photo"
    if chosen is None and isinstance(source, (str, os.PathLike)):
        from crossspec.inference.source import imagery_of

        imagery = imagery_of([source])
    net = load_colorizer(chosen, device=device, domain=domain, tta=tta, work_scale=work_scale, imagery=imagery)
    return net.colorize(source, band=band, scale=scale, offset=offset, nodata=nodata, tile=tile, overlap=overlap,
                        margin=margin, batch_size=batch_size, allow_clipping=allow_clipping, hints=hints)
