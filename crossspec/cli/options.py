"""Options shared by several subcommands (rasterio's rio style)."""
from __future__ import annotations

import click

from crossspec.tta import TTA_MODES

overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace outputs that already exist.")
device_opt = click.option(
    "--device", default="auto", show_default=True, help="torch device: auto, cpu, cuda, cuda:1, ..."
)
lpips_weights_opt = click.option(
    "--lpips-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="AlexNet trunk for LPIPS (state dict with features.N.* keys). "
    "Default: $CROSSSPEC_LPIPS_ALEXNET, then the torch hub cache.",
)
tta_opt = click.option(
    "--tta", type=click.Choice(TTA_MODES), default="none", show_default=True,
    help="Test-time augmentation: 'hflip' averages each prediction with that of the mirrored input "
    "(twice the compute).",
)


def default_threads() -> int:
    """``$OMP_NUM_THREADS`` when set, else half the usable cores (at most 4, at least 1).

    torch's own default (every core) collapses when the cores are shared: its OpenMP threads spin
    waiting for each other while another process holds a core (quickstart on a loaded 2-core
    machine: 10 steps in 100 s with 2 threads, 6.7 s with 1).
    """
    import os

    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores // 2))


def _set_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> int:
    import torch

    n = value if value is not None else default_threads()
    torch.set_num_threads(n)
    return n


threads_opt = click.option(
    "--threads", type=click.IntRange(min=1), default=None, expose_value=False, callback=_set_threads,
    help="CPU threads for torch. Default: $OMP_NUM_THREADS when set, else half the cores (1 to 4), "
    "which stays fast when other processes share the machine.",
)
