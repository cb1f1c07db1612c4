"""``crossspec colorize``: images, folders and georeferenced rasters of any size (a thin layer over
:mod:`crossspec.inference`)."""
from __future__ import annotations

import click

from crossspec.cli.options import device_opt, overwrite_opt, tta_opt
from crossspec.errors import ConfigError


@click.command("colorize")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder; outputs keep the input's stem (rasters -> .tif, images -> .png).")
@click.option("--checkpoint", default=None, help="Checkpoint file or run folder to load.")
@click.option("--model", "model_name", default=None, help="Registered model name (see `crossspec models`).")
@click.option("--domain", type=click.Choice(["nir", "gray"]), default="nir", show_default=True)
@click.option("-b", "--band", type=click.IntRange(min=1), default=None,
              help="1-based band of a multi-band raster to colorize (the NIR or gray band).")
@click.option("--scale", default=None,
              help="Raster value scaling: a reflectance factor (10000), 'minmax', 'percentile:2,98' or "
                   "'range:LO,HI'. Default by dtype: uint8 /255, uint16 /65535; floats need --scale.")
@click.option("--offset", type=float, default=0.0, show_default=True,
              help="Added to raw values before scaling (Sentinel-2 L2A: --scale 10000 --offset -1000).")
@click.option("--nodata", type=float, default=None, help="Nodata value overriding the raster's own.")
@click.option("--dtype", type=click.Choice(["uint8", "uint16", "float32"]), default="uint8", show_default=True,
              help="Data type of raster outputs.")
@click.option("--cog", is_flag=True, help="Write rasters as Cloud-Optimized GeoTIFFs.")
@click.option("--tile", type=click.IntRange(min=8), default=512, show_default=True, help="Tile side in pixels.")
@click.option("--overlap", type=click.IntRange(min=0), default=64, show_default=True,
              help="Overlap of neighbouring tiles in pixels (blended smoothly).")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True, help="Tiles per model call.")
@tta_opt
@device_opt
@click.option("--glob", "pattern", default=None, help="File pattern inside input folders (e.g. '*_nir.png').")
@overwrite_opt
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Skip inputs whose output exists already.")
@click.pass_context
def colorize_cmd(ctx: click.Context, inputs, out_dir, checkpoint, model_name, domain, band, scale, offset,
                 nodata, dtype, cog, tile, overlap, batch_size, tta, device, pattern, overwrite, resume) -> None:
    """Colorize NIR or gray INPUT files, folders and GeoTIFF rasters into RGB files in OUT.

    \b
    crossspec colorize scene.tif -b 4 -o out/ --model nir-gain
    crossspec colorize S2_B08.tif --scale 10000 --offset -1000 -o out/ --checkpoint runs/nir/best.safetensors
    crossspec colorize photos/ --glob '*_nir.png' -o out/ --checkpoint runs/nir
    """
    from tqdm import tqdm

    from crossspec.inference.batch import collect_jobs, run_jobs
    from crossspec.inference.colorize import colorize_image_file, colorize_raster_file
    from crossspec.inference.predict import load_colorizer, make_predictor
    from crossspec.inference.tiling import check_tiling
    from crossspec.io.raster import Scaling

    verbosity = (ctx.obj or {}).get("verbosity", 0)
    if checkpoint is None and model_name is None:
        raise ConfigError("no model given: pass --checkpoint CKPT or --model NAME (see `crossspec models`)")
    if checkpoint is not None and model_name is not None:
        raise ConfigError("--checkpoint and --model: give one of them, not both")
    check_tiling(tile, overlap)
    scaling = Scaling.parse(scale, offset)
    jobs = collect_jobs(inputs, out_dir, pattern)
    if not jobs:
        raise ConfigError(f"no input images or rasters found in {', '.join(inputs)}"
                          + (f" matching {pattern!r}" if pattern else ""))
    net = load_colorizer(model_name, checkpoint, device)
    predict = make_predictor(net, domain, tta=tta)
    quiet = verbosity < 0
    tiling = dict(tile=tile, overlap=overlap, batch_size=batch_size)

    files_bar = tqdm(total=len(jobs), desc="files", unit="file", disable=quiet or len(jobs) == 1, position=0)
    tiles_bar = tqdm(total=0, desc="tiles", unit="tile", disable=quiet, position=1, leave=False)

    def start(n: int) -> None:
        tiles_bar.reset(total=n)

    tags = {"crossspec_model": str(checkpoint or model_name), "crossspec_tta": tta}

    def process(job) -> None:
        if job.kind == "raster":
            colorize_raster_file(job.src, job.dst, predict, band=band, scaling=scaling, nodata=nodata, dtype=dtype,
                                 cog=cog, overwrite=overwrite, progress=tiles_bar.update, on_start=start,
                                 tags=tags, **tiling)
        else:
            colorize_image_file(job.src, job.dst, predict, overwrite=overwrite, progress=tiles_bar.update,
                                on_start=start, **tiling)

    def on_file(job) -> None:
        files_bar.set_postfix_str(job.src.name, refresh=False)

    try:
        summary = run_jobs(jobs, lambda j: (process(j), files_bar.update(1)), overwrite=overwrite, resume=resume,
                           on_file=on_file, verbose=verbosity > 0)
    finally:
        tiles_bar.close()
        files_bar.close()
    if not quiet or summary.failed:
        click.echo(f"{summary.line()} -> {out_dir}", err=True)
    for _, msg in summary.failed:
        click.echo(f"  failed: {msg}", err=True)
    if summary.failed:
        ctx.exit(1)
