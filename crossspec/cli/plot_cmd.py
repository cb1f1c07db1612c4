"""``crossspec plot``: training curves of one or more runs from their ``log.jsonl``."""
from __future__ import annotations

from pathlib import Path

import click

from crossspec.cli.options import overwrite_opt


@click.command("plot")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="PNG to write. Default: curves.png inside the run folder (one run only).")
@overwrite_opt
def plot_cmd(run_dirs: tuple[str, ...], output: str | None, overwrite: bool) -> None:
    """Plot the loss terms, learning rate and validation metrics of runs, overlaid (needs matplotlib).

    \b
    Examples:
      crossspec plot runs/colormamba-small
      crossspec plot runs/seed0 runs/seed1 runs/seed2 -o seeds.png
    """
    from crossspec.figures import training_curves

    if output is None:
        if len(run_dirs) > 1:
            raise click.UsageError("give -o FILE.png to plot several runs")
        output = str(Path(run_dirs[0]) / "curves.png")
    training_curves(run_dirs, output, overwrite=overwrite)
    click.echo(output)
