"""``crossspec eval``: score predictions (a folder, a registered model or a checkpoint) on dataset splits."""
from __future__ import annotations

import logging
from pathlib import Path

import click

from crossspec.cli.options import device_opt, lpips_weights_opt, overwrite_opt, threads_opt, tta_opt
from crossspec.device import resolve_device
from crossspec.domains import DOMAINS
from crossspec.metrics.ssim import SSIM_VARIANTS

log = logging.getLogger("crossspec")

DEFAULT_SPLITS = {"vcip2020": ("test-28", "test-clean-20"), "demo": ("test",)}


def _source_order(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    # click handles options in the order they first appear on the command line: remember it, so the
    # first source given is the first scored (the figure's default images come from its scores)
    ctx.meta.setdefault("eval_sources", []).extend((param.name, v) for v in value)
    return value


@click.command("eval")
@click.option("--pred", "pred_dir", multiple=True, type=click.Path(file_okay=False), callback=_source_order,
              help="Folder of predicted RGB images (repeatable).")
@click.option("--model", "model_name", multiple=True, callback=_source_order,
              help="Registered model to run first, e.g. a pretrained one (see `crossspec models`; repeatable).")
@click.option("--checkpoint", multiple=True, type=click.Path(), callback=_source_order,
              help="Trained checkpoint (file or run folder) to run first (repeatable).")
@click.option("--data", "root", type=click.Path(file_okay=False), help="Dataset root (the VCIP 2020 folder).")
@click.option("--dataset", default="vcip2020", show_default=True, type=click.Choice(["vcip2020", "demo"]),
              help="Dataset layout; `demo` is generated and needs no --data.")
@click.option("--split", "splits", multiple=True,
              help="Split to score; repeat for several. Default: test-28 and test-clean-20 (demo: test).")
@click.option("--domain", default="nir", show_default=True, type=click.Choice(DOMAINS),
              help="Input the model sees: the NIR image, or the luminance of the ground-truth RGB.")
@click.option("--ssim-variant", default="skimage", show_default=True, type=click.Choice(list(SSIM_VARIANTS)),
              help="SSIM variant (named in the output).")
@lpips_weights_opt
@click.option("--lpips/--no-lpips", "use_lpips", default=None,
              help="Force LPIPS on (error if the trunk is missing) or off. Default: on when the trunk is found.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the summary as JSON.")
@click.option("--per-image", "csv_path", type=click.Path(dir_okay=False), help="Write per-image scores as CSV.")
@click.option("--save-pred", type=click.Path(file_okay=False),
              help="With --model/--checkpoint: save predictions into this empty folder (--overwrite: a used one).")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1))
@click.option("--figure", "figure_path", type=click.Path(dir_okay=False),
              help="Write a PNG grid: input | each source (its PSNR on the tile) | ground truth. Needs matplotlib.")
@click.option("--figure-images", multiple=True,
              help="Images for --figure: keys or numbers, comma-separated or repeated (testing_0005,7). "
                   "Default: the best, median and worst image by the first source's PSNR.")
@click.option("--rasters", type=click.Path(),
              help="Score on multispectral rasters instead: a scene manifest (YAML/JSON; --data is the root of its "
                   "relative paths; --split test = its held-out scenes, the default) or a folder of rasters "
                   "(with --preset and --bands).")
@click.option("--input-bands", default="nir", show_default=True,
              help="With --rasters: the input bands (nir, nir+swir, cir or roles joined by '+'); must match the model.")
@click.option("--preset", help="With --rasters FOLDER: scaling preset of its rasters (crossspec.data.rs_scaling).")
@click.option("--bands", "folder_bands", default="red=1,green=2,blue=3,nir=4", show_default=True,
              help="With --rasters FOLDER: which band of each raster holds each role.")
@click.option("--figure-dir", type=click.Path(file_okay=False),
              help="With --rasters: write <scene>.png = NIR | colorized | true RGB per raster here.")
@tta_opt
@device_opt
@threads_opt
@overwrite_opt
@click.pass_context
def eval_cmd(ctx, pred_dir, model_name, checkpoint, root, dataset, splits, domain, ssim_variant, lpips_weights,
             use_lpips, json_path, csv_path, save_pred, batch_size, figure_path, figure_images, rasters, input_bands,
             preset, folder_bands, figure_dir, tta, device, overwrite):
    """Score colorizations on dataset splits under the VCIP 2020 protocol.

    Several sources (repeat --pred, --model, --checkpoint) are scored one after the other, in the
    order given, and drawn side by side by --figure; --json, --per-image and --save-pred take one.

    \b
    Examples:
      crossspec eval --pred results/ --data VCIP2020 --split test-28 --split test-clean-20
      crossspec eval --model nir-gain --data VCIP2020 --json scores.json
      crossspec eval --checkpoint runs/colormamba-small --data VCIP2020
      crossspec eval --model colormamba-small-vcip --model nir-gain --data VCIP2020 --figure compare.png
      crossspec eval --checkpoint runs/rs/unet-nir --rasters shared-rgbn --data ../shared/data --figure-dir figs/

    \b
    With --rasters each held-out raster's input bands are colorized and scored against its own RGB
    bands on valid pixels only (one row per raster and their mean). `--model nir-gain` is first
    fitted on the manifest's training scenes (or pass a gain fitted with `crossspec data fit-gain`
    as --checkpoint).
    """
    from crossspec.evaluation import check_output_file, run_eval

    sources = ctx.meta.get("eval_sources", [])
    if not sources:
        raise click.UsageError("give a source: --pred, --model or --checkpoint (repeat them to compare several; "
                               "exactly one of them with --json, --per-image or --save-pred)")
    if len(sources) > 1 and (json_path or csv_path or save_pred):
        raise click.UsageError("--json, --per-image and --save-pred take exactly one of --pred, --model, --checkpoint")
    if any(kind == "pred_dir" for kind, _ in sources) and (save_pred or tta != "none"):
        raise click.UsageError("--save-pred and --tta apply to --model/--checkpoint, not to --pred")
    if json_path and csv_path and Path(json_path).resolve() == Path(csv_path).resolve():
        raise click.UsageError("--json and --per-image name the same file")
    for path in (json_path, csv_path, figure_path):  # before scoring, which can take minutes
        if path:
            check_output_file(path, overwrite)
    if rasters is not None:
        if len(sources) != 1 or sources[0][0] == "pred_dir":
            raise click.UsageError("--rasters scores exactly one --model or --checkpoint")
        if figure_path:
            raise click.UsageError("--figure applies to dataset splits; with --rasters use --figure-dir")
        report = _raster_eval(rasters, root, sources[0][1], splits, save_pred, domain,
                              ssim_variant, use_lpips, input_bands, preset, folder_bands, figure_dir, batch_size,
                              tta, resolve_device(device), overwrite)
        click.echo(report.format_table())
    else:
        if figure_dir:
            raise click.UsageError("--figure-dir applies to --rasters")
        if figure_path:
            from crossspec.figures import require_matplotlib

            require_matplotlib()  # before minutes of scoring, not after
        scored = []
        for kind, source in sources:
            report = run_eval(
                pred_dir=source if kind == "pred_dir" else None, model=None if kind == "pred_dir" else source,
                root=root, dataset=dataset, splits=list(splits) or list(DEFAULT_SPLITS[dataset]), domain=domain,
                ssim_variant=ssim_variant, lpips_weights=lpips_weights, use_lpips=use_lpips, save_pred=save_pred,
                batch_size=batch_size, device=resolve_device(device), overwrite=overwrite, tta=tta,
                keep_predictions=bool(figure_path),
            )
            if len(sources) > 1:
                click.echo(f"== {source} ==")
            click.echo(report.format_table())
            scored.append((source, report))
        if figure_path:
            from crossspec.figures import comparison_figure

            wanted = [w.strip() for item in figure_images for w in item.split(",") if w.strip()]
            comparison_figure(scored, figure_path, images=wanted or None, domain=domain, overwrite=overwrite)
            click.echo(f"figure: {figure_path}")
    if json_path:
        report.write_json(json_path, overwrite=overwrite)
    if csv_path:
        report.write_csv(csv_path, overwrite=overwrite)


def _raster_eval(rasters, root, model, splits, save_pred, domain, ssim_variant, use_lpips, input_bands,
                 preset, folder_bands, figure_dir, batch_size, tta, device, overwrite):
    from crossspec.models import load_model, model_info
    from crossspec.raster_eval import evaluate_rasters, fit_gain, load_scenes

    if save_pred:
        raise click.UsageError("--save-pred does not apply to --rasters; write GeoTIFFs with `crossspec colorize`")
    if domain != "nir" or use_lpips:
        raise click.UsageError("--rasters scores NIR-domain input without LPIPS (drop --domain gray / --lpips)")
    if len(splits) > 1:
        raise click.UsageError("--rasters takes one --split (test, val, train or all)")
    split = splits[0] if splits else "test"
    scenes = load_scenes(rasters, root, split, folder_bands=folder_bands, preset=preset)
    net = load_model(model, device)
    if hasattr(net, "fit") and model_info(net).checkpoint is None:  # type: ignore[union-attr]  # a name, not a fitted file
        if Path(rasters).is_dir():
            raise click.UsageError(f"{model} needs fitting on training rasters: fit it with `crossspec data fit-gain "
                                   "MANIFEST --data ROOT -o gain.safetensors` and pass --checkpoint gain.safetensors")
        from crossspec.data.scenes import load_manifest

        net = fit_gain(load_manifest(rasters, root), input_bands).to(device)
        log.info("%s fitted on the manifest's training scenes: %s", model,
                 ", ".join(f"{v:.4f}" for v in net.gain.tolist()))
    report = evaluate_rasters(scenes, net, bands=input_bands, ssim_variant=ssim_variant, tta=tta,
                              batch_size=batch_size, figure_dir=figure_dir, overwrite=overwrite, split=split,
                              source=f"model {model}")
    if hasattr(net, "gain"):
        report.protocol["nir_gain"] = [round(float(v), 6) for v in net.gain.tolist()]
    return report
