"""Scoring a colorizer on whole multispectral rasters against their own RGB bands (``crossspec eval --rasters``).

Per scene (one raster, or one scene's band files): the input bands are colorized through the
colorize path (:func:`crossspec.inference.stream.stream_colorize` with the predictor of
:func:`crossspec.inference.predict.make_predictor`, fp32 so scores do not depend on the device),
the prediction is rounded to 8-bit levels as a saved output would be, and it is scored against
the scene's RGB bands under the scene's fixed display rule (never stretched) on the valid pixels
only (:mod:`crossspec.metrics.masked`: PSNR, SSIM, AE, CF, dCF; no LPIPS). The report has one row
per scene and a mean row, in the format of the VCIP evaluation (:class:`crossspec.evaluation.EvalReport`).

A scene is held in memory while it is scored (SSIM needs the whole image); scenes are scored one
after another.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn

from crossspec.data.scenes import TARGET_ROLES, Scene, SceneReader, input_roles, scene_grid
from crossspec.errors import ConfigError, CrossspecError, file_error
from crossspec.evaluation import EvalReport, ImageScore
from crossspec.metrics.masked import MASKED_SSIM_VARIANTS, masked_scores
from crossspec.metrics.ssim import SSIM_VARIANTS

log = logging.getLogger("crossspec")

FIGURE_MAX_SIDE = 1024


def read_scene(scene: Scene, roles: Sequence[str], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A whole scene's bands ``(C, H, W)`` display values and validity ``(H, W)``."""
    grid = scene_grid(scene)
    return SceneReader(scene, grid).read(roles, (0, 0, grid.height, grid.width), kind=kind)


def read_pair(scene: Scene, roles: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A scene's input bands ``(C, H, W)``, RGB target ``(3, H, W)`` (display values) and the pixels
    valid in every one of them ``(H, W)``."""
    x, ok_in = read_scene(scene, roles, "input")
    y, ok_t = read_scene(scene, TARGET_ROLES, "target")
    return x, y, ok_in & ok_t


def colorize_scene(x: np.ndarray, valid: np.ndarray, predict, *, tile: int = 512, overlap: int = 64,
                   batch_size: int = 4) -> np.ndarray:
    """``x`` ``(C, H, W)`` input bands -> ``(3, H, W)`` RGB in [0, 1] through the streaming colorize
    path (:func:`crossspec.inference.colorize.colorize_array`); 0 where ``valid`` is False."""
    from crossspec.inference.colorize import colorize_array

    hwc = np.ascontiguousarray(np.moveaxis(x, 0, -1))
    data = hwc[..., 0] if hwc.shape[-1] == 1 else hwc  # one band: the (H, W) layout colorize uses
    rgb = colorize_array(data, valid, predict, tile=tile, overlap=overlap, batch_size=batch_size)
    return np.nan_to_num(np.moveaxis(rgb, -1, 0), nan=0.0)


def figure(nir: np.ndarray, pred: np.ndarray, target: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``NIR | colorized | true RGB`` side by side, ``(H, 3W + 8, 3)`` in [0, 1]; nodata black,
    white 4-px gutters; decimated so the longer side of each panel is at most 1024 px."""
    step = max(1, int(np.ceil(max(nir.shape) / FIGURE_MAX_SIDE)))
    v = valid[::step, ::step, None]
    panels = [np.repeat(nir[::step, ::step, None], 3, axis=2), np.moveaxis(pred[:, ::step, ::step], 0, -1),
              np.moveaxis(target[:, ::step, ::step], 0, -1)]
    gap = np.ones((v.shape[0], 4, 3), np.float32)
    row = []
    for p in panels:
        row += [np.where(v, p, 0.0).astype(np.float32), gap]
    return np.clip(np.concatenate(row[:-1], axis=1), 0, 1)


def evaluate_rasters(scenes: Sequence[Scene], model: nn.Module, *, bands: str | Iterable[str] = "nir",
                     ssim_variant: str = "skimage", tta: str = "none", tile: int = 512, overlap: int = 64,
                     batch_size: int = 4, figure_dir: str | os.PathLike | None = None, overwrite: bool = False,
                     split: str = "test", source: str = "model") -> EvalReport:
    """Score ``model`` on every scene of ``scenes``; see the module docstring.

    ``figure_dir``: also write ``<scene>.png`` = NIR | colorized | true RGB there.
    """
    from crossspec.evaluation import quantize
    from crossspec.inference.predict import make_predictor
    from crossspec.io.image import save_image

    if ssim_variant not in MASKED_SSIM_VARIANTS:
        raise ConfigError(f"--ssim-variant {ssim_variant}: rasters are scored with masks, which the "
                          f"{', '.join(MASKED_SSIM_VARIANTS)} variants support")
    roles = input_roles(bands)
    want = int(getattr(model, "in_channels", 1))
    if want != len(roles):
        raise ConfigError(f"--input-bands {'+'.join(roles)}: {len(roles)} band(s), but the model takes {want}")
    if not scenes:
        raise CrossspecError("no scenes to evaluate")
    for s in scenes:
        s.check_roles((*roles, *TARGET_ROLES))
    fig_dir = Path(figure_dir) if figure_dir is not None else None
    if fig_dir is not None:
        fig_dir.mkdir(parents=True, exist_ok=True)
        for s in scenes:
            f = fig_dir / f"{s.name}.png"
            if f.exists() and not overwrite:
                raise file_error(f, "exists already (pass --overwrite to replace it)")
    predict = make_predictor(model, "nir", tta=tta, amp=False)
    names = [s.name for s in scenes]
    mean_row = f"mean ({split}, {len(scenes)} rasters)"
    report = EvalReport(protocol={}, splits={**{n: [n] for n in names}, mean_row: names})
    for s in scenes:
        x, y, valid = read_pair(s, roles)
        if not valid.any():
            raise file_error(s.bands["red"].path, f"scene {s.name!r} has no pixel valid in every band")
        pred = colorize_scene(x * valid, valid, predict, tile=tile, overlap=overlap, batch_size=batch_size)
        pred_t = quantize(torch.from_numpy(pred))
        vals = masked_scores(pred_t, torch.from_numpy(y), torch.from_numpy(valid), ssim_variant)
        log.info("%s: PSNR %.2f dB, SSIM %.4f, AE %.2f deg on %.1f%% valid pixels", s.name, vals["psnr"], vals["ssim"],
                 vals["ae"], 100 * vals["valid_fraction"])
        report.images[s.name] = ImageScore(s.name, s.name, vals)
        if fig_dir is not None:
            save_image(fig_dir / f"{s.name}.png", figure(x[0], pred_t.numpy(), y, valid), bits=8, overwrite=overwrite)
    report.protocol = {
        "description": (f"rasters: per scene on its valid pixels (pixel valid in every input and RGB band); "
                        f"prediction rounded to 8 bits, RGB target = the scene's fixed display rule (not stretched); "
                        f"PSNR, SSIM ({ssim_variant}: {SSIM_VARIANTS[ssim_variant]}; mean over windows wholly on "
                        f"valid pixels), AE, CF/dCF on valid pixels; no LPIPS"),
        "ssim_variant": ssim_variant, "lpips": None, "source": source, "input_bands": list(roles),
        "tta": tta, "split": split,
        "scaling": {s.name: s.radiometry.describe() for s in scenes},
        "valid_fraction": {s.name: report.images[s.name].values["valid_fraction"] for s in scenes},
    }
    return report


def parse_band_layout(text: str) -> dict[str, int]:
    """``"red=1,green=2,blue=3,nir=4"`` -> ``{"red": 1, ...}`` (for a folder of rasters)."""
    from crossspec.data.scenes import role_name

    out: dict[str, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        role, _, band = part.partition("=")
        try:
            out[role_name(role)] = int(band)
        except ValueError:
            raise ConfigError(f"--bands: {part!r} is not ROLE=BAND (e.g. red=1,green=2,blue=3,nir=4)") from None
    return out


def load_scenes(rasters: str | os.PathLike, root: str | os.PathLike | None, split: str, *,
                folder_bands: str = "red=1,green=2,blue=3,nir=4", preset: str | None = None) -> list[Scene]:
    """The scenes of a manifest's ``split`` (``test`` = held out, ``train``/``val``/``all`` as
    :class:`~crossspec.data.raster_pairs.RasterPairs` with ``split_mode="file"``), or every raster
    of a folder (then ``preset`` is required and ``split`` is ignored)."""
    from crossspec.data.raster_pairs import RasterPairs
    from crossspec.data.scenes import load_manifest, scenes_from_folder

    if Path(rasters).is_dir():
        if preset is None:
            raise ConfigError(f"{rasters}: a folder of rasters needs --preset (how its values scale), "
                              "e.g. aerial-8bit, s2-l2a, landsat-c2-l2")
        return scenes_from_folder(rasters, parse_band_layout(folder_bands), preset)
    scenes = load_manifest(rasters, root)
    if split == "test":
        chosen = [s for s in scenes if s.split == "test"]
        if not chosen:
            raise file_error(rasters, "marks no scene 'split: test' (held out); mark some or choose --split all",
                             ConfigError)
        return chosen
    return RasterPairs(root, split, scenes=scenes, window=8).scenes


def fit_gain(scenes: Sequence[Scene], bands: str = "nir", tile: int = 512) -> nn.Module:
    """``nir-gain`` fitted on every valid pixel of ``scenes`` (mean RGB / mean NIR per channel),
    rebuilt with the fitted gains as its kwargs so that it saves and reloads as a checkpoint."""
    from crossspec.data.raster_pairs import RasterPairs
    from crossspec.models import create_model

    if len(input_roles(bands)) != 1:
        raise ConfigError(f"nir-gain takes one input band, not {bands!r}")
    ds = RasterPairs(None, "all", scenes=[s for s in scenes if s.split != "test"], input_bands=bands, window=8)
    gain = create_model("nir-gain").fit(ds.scene_blocks(tile))
    return create_model("nir-gain", gain=tuple(round(float(g), 6) for g in gain)).eval()


__all__ = ["colorize_scene", "evaluate_rasters", "figure", "fit_gain", "load_scenes", "parse_band_layout",
           "read_pair", "read_scene"]
