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
