"""``crossspec eval``: score predictions (a folder, a registered model or a checkpoint) on dataset splits."""
from __future__ import annotations

import logging
from pathlib import Path

import click

from crossspec.cli.options import device_opt, lpips_weights_opt, overwrite_opt, threads_opt, tta_opt
from crossspec.device import resolve_device
from crossspec.metrics.ssim import SSIM_VARIANTS

log = logging.getLogger("crossspec")

DEFAULT_SPLITS = {"vcip2020": ("test-28", "test-clean-20"), "demo": ("test",)}


@click.command("eval")
@click.option("--pred", "pred_dir", type=click.Path(file_okay=False), help="Folder of predicted RGB images.")
@click.option("--model", "model_name", help="Registered model to run first (see `crossspec models`).")
@click.option("--checkpoint", type=click.Path(), help="Trained checkpoint (file or run folder) to run first.")
@click.option("--data", "root", type=click.Path(file_okay=False), help="Dataset root (the VCIP 2020 folder).")
@click.option("--dataset", default="vcip2020", show_default=True, type=click.Choice(["vcip2020", "demo"]),
              help="Dataset layout; `demo` is generated and needs no --data.")
@click.option("--split", "splits", multiple=True,
              help="Split to score; repeat for several. Default: test-28 and test-clean-20 (demo: test).")
@click.option("--domain", default="nir", show_default=True, type=click.Choice(["nir", "gray"]),
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
def eval_cmd(pred_dir, model_name, checkpoint, root, dataset, splits, domain, ssim_variant, lpips_weights,
             use_lpips, json_path, csv_path, save_pred, batch_size, rasters, input_bands, preset, folder_bands,
             figure_dir, tta, device, overwrite):
    """Score colorizations on dataset splits under the VCIP 2020 protocol.

    \b
    Examples:
      crossspec eval --pred results/ --data VCIP2020 --split test-28 --split test-clean-20
      crossspec eval --model nir-gain --data VCIP2020 --json scores.json
      crossspec eval --checkpoint runs/colormamba-small --data VCIP2020
      crossspec eval --checkpoint runs/rs/unet-nir --rasters shared-rgbn --data ../shared/data --figure-dir figs/

    \b
    With --rasters each held-out raster's input bands are colorized and scored against its own RGB
    bands on valid pixels only (one row per raster and their mean). `--model nir-gain` is first
    fitted on the manifest's training scenes (or pass a gain fitted with `crossspec data fit-gain`
    as --checkpoint).
    """
    from crossspec.evaluation import check_output_file, run_eval

    sources = [x for x in (pred_dir, model_name, checkpoint) if x]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of --pred, --model, --checkpoint")
    if pred_dir and (save_pred or tta != "none"):
        raise click.UsageError("--save-pred and --tta apply to --model/--checkpoint, not to --pred")
    if json_path and csv_path and Path(json_path).resolve() == Path(csv_path).resolve():
        raise click.UsageError("--json and --per-image name the same file")
    for path in (json_path, csv_path):  # before scoring, which can take minutes
        if path:
            check_output_file(path, overwrite)
    if rasters is not None:
        report = _raster_eval(rasters, root, model_name or checkpoint, pred_dir, splits, save_pred, domain,
                              ssim_variant, use_lpips, input_bands, preset, folder_bands, figure_dir, batch_size,
                              tta, resolve_device(device), overwrite)
    else:
        if figure_dir:
            raise click.UsageError("--figure-dir applies to --rasters")
        report = run_eval(
            pred_dir=pred_dir, model=model_name or checkpoint, root=root, dataset=dataset,
            splits=list(splits) or list(DEFAULT_SPLITS[dataset]), domain=domain, ssim_variant=ssim_variant,
            lpips_weights=lpips_weights, use_lpips=use_lpips, save_pred=save_pred, batch_size=batch_size,
            device=resolve_device(device), overwrite=overwrite, tta=tta,
        )
    click.echo(report.format_table())
    if json_path:
        report.write_json(json_path, overwrite=overwrite)
    if csv_path:
        report.write_csv(csv_path, overwrite=overwrite)


def _raster_eval(rasters, root, model, pred_dir, splits, save_pred, domain, ssim_variant, use_lpips, input_bands,
                 preset, folder_bands, figure_dir, batch_size, tta, device, overwrite):
    from crossspec.models.checkpoint import load_model
    from crossspec.raster_eval import evaluate_rasters, fit_gain, load_scenes

    if pred_dir:
        raise click.UsageError("--rasters scores a model or checkpoint, not a --pred folder")
    if save_pred:
        raise click.UsageError("--save-pred does not apply to --rasters; write GeoTIFFs with `crossspec colorize`")
    if domain != "nir" or use_lpips:
        raise click.UsageError("--rasters scores NIR-domain input without LPIPS (drop --domain gray / --lpips)")
    if len(splits) > 1:
        raise click.UsageError("--rasters takes one --split (test, val, train or all)")
    split = splits[0] if splits else "test"
    scenes = load_scenes(rasters, root, split, folder_bands=folder_bands, preset=preset)
    net = load_model(model, device)
    if hasattr(net, "fit") and getattr(net, "crossspec_checkpoint", None) is None:  # a name, not a fitted file
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
