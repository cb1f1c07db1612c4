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
@tta_opt
@device_opt
@threads_opt
@overwrite_opt
def eval_cmd(pred_dir, model_name, checkpoint, root, dataset, splits, domain, ssim_variant, lpips_weights,
             use_lpips, json_path, csv_path, save_pred, batch_size, tta, device, overwrite):
    """Score colorizations on dataset splits under the VCIP 2020 protocol.

    \b
    Examples:
      crossspec eval --pred results/ --data VCIP2020 --split test-28 --split test-clean-20
      crossspec eval --model nir-gain --data VCIP2020 --json scores.json
      crossspec eval --checkpoint runs/colormamba-small --data VCIP2020
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
