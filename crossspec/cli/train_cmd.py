"""``crossspec train``: train a colorizer from a YAML config (a thin layer over Trainer)."""
from __future__ import annotations

from pathlib import Path

import click

from crossspec.cli.options import overwrite_opt, threads_opt
from crossspec.domains import DOMAINS


def default_run_dir(config_path: str | Path) -> Path:
    """``runs/`` + the config's path below its ``configs/`` folder, without suffix
    (configs/nir/colormamba-small.yaml -> runs/nir/colormamba-small), so configs of the same name
    for different domains never share a run; a config outside any ``configs/`` folder: runs/<name>."""
    path = Path(config_path)
    parts = path.with_suffix("").parts
    if "configs" in parts[:-1]:
        i = len(parts) - 1 - parts[::-1].index("configs")
        return Path("runs", *parts[i + 1:])
    return Path("runs") / path.stem


@click.command("train")
@click.option("--domain", type=click.Choice(DOMAINS), default=None,
              help="Input domain: near-infrared or grayscale (RGB images -> luminance input). "
                   "Default: the config's domain: key.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Experiment YAML (configs/...). Optional with --resume (the run's config.yaml is used).")
@click.option("--data", "data_root", type=click.Path(file_okay=False), default=None,
              help="Dataset root; overrides data.root.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Run directory. Default: runs/ + the config's path below configs/ (runs/nir/colormamba-small).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from checkpoints/last.")
@overwrite_opt
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 (torchrun: one GPU per process).")
@threads_opt
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
@click.pass_context
def train_cmd(ctx: click.Context, domain: str | None, config_path: str | None, data_root: str | None, out_dir: str | None,
              resume: bool, overwrite: bool, device: str, overrides: tuple[str, ...]) -> None:
    """Train a model; every config key can be overridden, e.g. train.lr=2e-4 data.batch_size=4.

    \b
    crossspec train --config configs/quickstart.yaml
    torchrun --nproc_per_node 2 -m crossspec train --domain nir --config configs/nir/colormamba.yaml
    """
    from crossspec.config import load_config
    from crossspec.engine.trainer import Trainer
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite: choose one (continue the run, or start it over)")
    if out_dir is None:
        if config_path is None:
            raise click.UsageError("--out: give the run directory (or --config, whose path sets runs/<path>)")
        out_dir = str(default_run_dir(config_path))
    run_dir = Path(out_dir)
    saved = run_dir / "config.yaml"
    if resume and saved.is_file():
        # The run's own resolved config, so a resumed run is the same experiment; overrides
        # (e.g. a larger train.steps) still apply on top.
        source = saved
    elif config_path is not None:
        source = Path(config_path)
    else:
        raise click.UsageError("--config: required (no saved config.yaml to resume from in --out)")
    items = [*([f"domain={domain}"] if domain else []), *overrides]
    if data_root is not None:
        items.append(f"data.root={data_root}")
    cfg = load_config(source, items)
    quiet = (ctx.find_root().obj or {}).get("verbosity", 0) < 0
    result = Trainer(cfg, run_dir, device=device, resume=resume, overwrite=overwrite, progress=not quiet).fit()
    if result.last is not None:
        click.echo(f"checkpoint: {result.last}")
    if (run_dir / "preview.png").is_file():
        click.echo(f"preview: {run_dir / 'preview.png'}")
    m = result.metrics
    if m:
        click.echo(
            f"validation ({cfg.data.val_split}, {int(m['images'])} images): {cfg.model.name} PSNR {m['psnr']:.2f} dB "
            f"SSIM {m['ssim']:.3f} AE {m['ae']:.2f} deg | nir-gray baseline PSNR {m['baseline_psnr']:.2f} dB"
        )
