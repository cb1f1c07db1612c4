"""``crossspec colorize``: images, folders and georeferenced rasters of any size (a thin layer over
:mod:`crossspec.inference`)."""
from __future__ import annotations

import math
import os
import sys

import click

from crossspec.cli.options import device_opt, overwrite_opt, threads_opt, tta_opt
from crossspec.errors import ConfigError
from crossspec.domains import DOMAINS


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value!r} is not a finite number")
    return value


@click.command("colorize")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder; outputs keep the input's stem (rasters -> .tif, images -> .png). "
                   "It must not hold the inputs themselves.")
@click.option("--checkpoint", default=None, help="Checkpoint file or run folder to load.")
@click.option("--model", "model_name", default=None,
              help="Registered model name (see `crossspec models`). Default: the shipped model for the domain; "
                   "for rasters with a CRS, the shipped overhead (aerial/satellite) model when there is one.")
@click.option("--domain", type=click.Choice(DOMAINS), default="nir", show_default=True)
@click.option("-b", "--band", type=click.IntRange(min=1), default=None,
              help="1-based band of a multi-band raster to colorize (the NIR or gray band).")
@click.option("--scale", default=None,
              help="Raster value scaling: a reflectance factor (10000), 'minmax', 'percentile:2,98' or "
                   "'range:LO,HI'. Default by dtype: uint8 /255, uint16 /65535; floats need --scale.")
@click.option("--offset", type=float, default=0.0, show_default=True, callback=_finite,
              help="Added to raw values before scaling (Sentinel-2 L2A: --scale 10000 --offset -1000).")
@click.option("--nodata", type=float, default=None, help="Nodata value overriding the raster's own.")
@click.option("--allow-clipping", is_flag=True,
              help="Scaled values are clipped to [0, 1]: above 20%% of the valid pixels clipped is a warning, "
                   "above 99%% an error (a nearly blank output) unless this flag is given.")
@click.option("--dtype", type=click.Choice(["uint8", "uint16", "float32"]), default="uint8", show_default=True,
              help="Data type of raster outputs.")
@click.option("--cog", is_flag=True, help="Write rasters as Cloud-Optimized GeoTIFFs.")
@click.option("--tile", type=click.IntRange(min=8), default=512, show_default=True, help="Tile side in pixels.")
@click.option("--overlap", type=click.IntRange(min=0), default=64, show_default=True,
              help="Overlap of neighbouring tiles in pixels (blended smoothly).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Tiles per model call. Default: 1 on a CPU (larger batches spill the caches and run slower), "
                   "4 on a GPU.")
@tta_opt
@click.option("--work-scale", type=click.FloatRange(min=0, max=1, min_open=True), default=1.0, show_default=True,
              help="Run the model on the input downscaled by this factor and bring its colours back to full "
                   "resolution along the input's edges (guided upsampling). For photographs much larger than "
                   "the model's training images: the VCIP models saw whole scenes at about 0.38 of the "
                   "camera's resolution (try 0.375 on 1024-px photographs). One-band inputs, no --hints.")
@device_opt
@threads_opt
@click.option("--hints", "hints_file", default=None, type=click.Path(dir_okay=False),
              help="CSV of colour hints for models that take them (zhang17): header x,y,r,g,b (pixel column, row; "
                   "colour 0-255) or east,north,r,g,b (map coordinates in the raster's CRS), optional size "
                   "(patch side in pixels, default 3). One input only.")
@click.option("--glob", "pattern", default=None, help="File pattern inside input folders (e.g. '*_nir.png').")
@overwrite_opt
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Skip inputs whose output exists already and records the same model and settings "
                   "(other existing outputs are errors unless --overwrite).")
@click.pass_context
def colorize_cmd(ctx: click.Context, inputs, out_dir, checkpoint, model_name, domain, band, scale, offset,
                 nodata, allow_clipping, dtype, cog, tile, overlap, batch_size, tta, work_scale, device, hints_file,
                 pattern, overwrite, resume) -> None:
    """Colorize NIR or gray INPUT files, folders, rasters and GDAL paths (/vsizip/..., /vsis3/...,
    HDF5:"f.h5"://x) into RGB files in the -o folder.

    Any raster option (-b, --scale, --offset, --nodata) reads every input as a raster (GeoTIFF
    out); without them, georeferenced or multi-band rasters are rasters and other files images.
    Each output records the model and settings that made it (GeoTIFF tags, or a sidecar <output>.crossspec.json).

    \b
    crossspec colorize night.png -o out/                  # the shipped default model
    crossspec colorize scene.tif -b 4 -o out/             # a raster with a CRS: the shipped overhead model
    crossspec colorize scene.tif -b 4 -o out/ --model nir-gain
    crossspec colorize S2_B08.tif --scale 10000 --offset -1000 -o out/ --checkpoint runs/nir/best.safetensors
    crossspec colorize photos/ --glob '*_nir.png' -o out/ --checkpoint runs/nir
    crossspec colorize scene.tif -b 4 -o out/ --checkpoint runs/zhang17 --hints lake.csv
    crossspec colorize photo_nir.jpg -o out/ --work-scale 0.375 --tile 1024
    """
    from crossspec.io.raster import Scaling, is_gdal_path

    if checkpoint is not None and model_name is not None:
        raise click.UsageError("--checkpoint and --model: give one of them, not both")
    for item in inputs:
        if not is_gdal_path(item) and not os.path.exists(item):
            raise click.BadParameter(f"{item}: no such file or folder", param_hint="INPUT")
    try:
        from crossspec.inference.tiling import check_tiling

        check_tiling(tile, overlap)
        scaling = Scaling.parse(scale, offset)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    hints = None
    if hints_file is not None:
        if work_scale != 1:
            raise click.UsageError("--hints and --work-scale: hints are placed at full resolution; drop --work-scale")
        from crossspec.io.hint_file import read_hint_file

        hints = read_hint_file(hints_file)  # checked before the model loads
    _run(ctx, inputs, out_dir, checkpoint or model_name, checkpoint is not None, domain, band, scaling, nodata,
         dict(allow_clipping=allow_clipping, dtype=dtype, cog=cog, tile=tile, overlap=overlap,
              batch_size=batch_size, overwrite=overwrite),
         tta, device, pattern, overwrite, resume, hints, work_scale)


def _run(ctx, inputs, out_dir, spec, is_checkpoint, domain, band, scaling, nodata, options, tta, device, pattern,
         overwrite, resume, hints=None, work_scale=1.0) -> None:
    from tqdm import tqdm

    from crossspec import __version__
    from crossspec.inference.batch import check_output_folder, collect_jobs, run_jobs
    from crossspec.inference.colorize import colorize_file
    from crossspec.inference.predict import load_for_inference, make_predictor
    from crossspec.inference.output_provenance import model_name, weights_sha256
    from crossspec.inference.source import raster_options_given, source_fields

    verbosity = (ctx.find_root().obj or {}).get("verbosity", 0)
    raster_options = raster_options_given(band, scaling, nodata)
    jobs = collect_jobs(inputs, out_dir, pattern, raster_options)
    if not jobs:
        raise ConfigError(f"no input images or rasters found in {', '.join(inputs)}"
                          + (f" matching {pattern!r}" if pattern else ""))
    if hints is not None and len(jobs) != 1:
        raise ConfigError(f"--hints: the hints belong to one image, but {len(jobs)} inputs were given; "
                          "colorize them one at a time")
    check_output_folder(out_dir)
    if spec is None:
        from crossspec.inference.colorizer import default_model_name
        from crossspec.inference.source import imagery_of
        from crossspec.models import get_entry

        spec = default_model_name(domain, imagery_of(job.src for job in jobs))
        shipped = get_entry(spec).pretrained
        imagery = shipped.imagery if shipped is not None else "photo"
        what = f"{domain} model for {imagery} imagery" if imagery != "photo" else f"{domain} model"
        click.echo(f"using the shipped {what} {spec} (choose another with --model or --checkpoint)", err=True)
    net = load_for_inference(None, spec, device) if is_checkpoint else load_for_inference(spec, None, device)
    predict = make_predictor(net, domain, tta=tta, hinted=hints is not None, work_scale=work_scale)
    if hints is not None:
        options = {**options, "hints": hints}
    record = {"crossspec_version": __version__, "model": model_name(net, spec), "weights_sha256": weights_sha256(net),
              "checkpoint": spec if is_checkpoint else None, "domain": domain, "tta": tta,
              "tile": options["tile"], "overlap": options["overlap"], "margin": None,
              "hints": hints.sha256 if hints is not None else None,
              "work_scale": work_scale if work_scale != 1 else None}

    def base_record(job) -> dict:
        raster = job.kind == "raster"
        return {**record, "dtype": options["dtype"] if raster else None, "cog": options["cog"] if raster else None}

    def full_record(job) -> dict:
        # What colorize_file would record: the band, scaling and nodata it resolves for this input.
        return {**base_record(job), **source_fields(job.src, job.kind, band=band, scaling=scaling, nodata=nodata)}

    # Progress bars only on a terminal: in logs and pipes their control codes are noise.
    show = verbosity >= 0 and sys.stderr.isatty()
    files_bar = tqdm(total=len(jobs), desc="files", unit="file", disable=not show or len(jobs) == 1, position=0)
    tiles_bar = tqdm(total=0, desc="tiles", unit="tile", disable=not show, position=1, leave=False)

    def process(job) -> None:
        colorize_file(job.src, job.dst, predict, band=band, scaling=scaling, nodata=nodata, kind=job.kind,
                      record=base_record(job), progress=tiles_bar.update, on_start=lambda n: tiles_bar.reset(total=n), **options)
        files_bar.update(1)

    try:
        summary = run_jobs(jobs, process, overwrite=overwrite, resume=resume, expected=full_record,
                           on_file=lambda job: files_bar.set_postfix_str(job.name, refresh=False),
                           verbose=verbosity > 0)
    finally:
        tiles_bar.close()
        files_bar.close()
    if verbosity >= 0 or summary.failed:
        click.echo(f"{summary.line()} -> {out_dir}", err=True)
    for _, msg in summary.failed:
        click.echo(f"  failed: {msg}", err=True)
    if summary.failed:
        ctx.exit(1)
