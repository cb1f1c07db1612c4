"""What made a colorized output, recorded with it so a re-run can tell finished work from stale work.

A record is a flat JSON object. GeoTIFF outputs carry it in the tag ``crossspec_provenance``
(inside the file, so it is written atomically with the pixels); image outputs carry it in a
sidecar ``OUT.png.crossspec.json`` written after the output (and removed before an output is
replaced, so a crash in between leaves an output without a record, never one with a stale record).

An existing output counts as done only when every field in :data:`COMPARED` matches. The
crossspec version is recorded but not compared: a release that changes inference results says
so in its notes, and forcing every re-run after a patch release to recompute whole archives would
make resuming useless.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import torch
import torch.nn as nn

from crossspec.errors import file_error
from crossspec.io.atomic import atomic_path
from crossspec.models import model_info

log = logging.getLogger("crossspec")

TAG = "crossspec_provenance"
SIDECAR_SUFFIX = ".crossspec.json"
# Fields that change the output's pixels (or its encoding); a difference in any one means the
# existing output is not the one asked for. "hints" is the sha256 of the hint file (None without;
# records written before hints existed have none, which matches; likewise "work_scale", None at 1).
COMPARED = ("model", "weights_sha256", "domain", "tta", "band", "scaling", "nodata", "tile", "overlap", "margin",
            "dtype", "cog", "hints", "work_scale")


def weights_sha256(model: nn.Module) -> str:
    """sha256 of the checkpoint file a model was loaded from, else of its state dict (registered
    models built in code: names, dtypes, shapes and bytes, in key order)."""
    info = model_info(model)
    ckpt = info.checkpoint if info is not None else None
    if ckpt and ckpt.get("path"):
        h = hashlib.sha256()
        with open(ckpt["path"], "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        t = value.detach().to("cpu").contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        # raw bytes whatever the dtype (numpy has no bfloat16)
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def model_name(model: nn.Module, fallback: str) -> str:
    """The registered name a model was built under (checkpoints record theirs), else ``fallback``."""
    info = model_info(model)
    return info.name if info is not None else fallback


def sidecar_path(dst: str | os.PathLike) -> Path:
    dst = Path(dst)
    return dst.with_name(dst.name + SIDECAR_SUFFIX)


def is_raster_output(dst: str | os.PathLike) -> bool:
    return Path(dst).suffix.lower() in (".tif", ".tiff")


def read_record(dst: str | os.PathLike) -> dict | None:
    """The record of an existing output, or ``None`` when it has none (or it cannot be read)."""
    dst = Path(dst)
    if is_raster_output(dst):
        import rasterio

        from crossspec.errors import CrossspecError
        from crossspec.io.raster import open_raster

        try:
            with open_raster(dst) as ds:
                text = ds.tags().get(TAG)
        except (CrossspecError, rasterio.errors.RasterioError):
            return None
    else:
        side = sidecar_path(dst)
        text = side.read_text(encoding="utf-8") if side.is_file() else None
    if not text:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def differences(old: dict, new: dict) -> list[str]:
    """``"field: old -> new"`` for every compared field that differs."""
    return [f"{k}: {_show(old.get(k))} -> {_show(new.get(k))}" for k in COMPARED if old.get(k) != new.get(k)]


def _show(value) -> str:
    if isinstance(value, str) and len(value) == 64:  # a hash: its head is enough to tell them apart
        return value[:12]
    return json.dumps(value)


def tags_for(record: dict) -> dict[str, str]:
    """GeoTIFF tags: the whole record as JSON plus a few readable ones."""
    return {TAG: json.dumps(record, sort_keys=True), "crossspec_model": str(record.get("model")),
            "crossspec_tta": str(record.get("tta"))}


def remove_sidecar(dst: str | os.PathLike) -> None:
    sidecar_path(dst).unlink(missing_ok=True)


def write_sidecar(dst: str | os.PathLike, record: dict) -> Path:
    """Write the record beside an image output (atomically, replacing an older one)."""
    side = sidecar_path(dst)
    if side.is_dir():
        raise file_error(side, "is a folder; the provenance record of the output cannot be written")
    with atomic_path(side, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return side
