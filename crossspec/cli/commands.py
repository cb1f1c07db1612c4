"""The list of subcommands; each lives in its own module so they can grow independently."""
from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    from crossspec.cli.colorize_cmd import colorize_cmd
    from crossspec.cli.data_cmd import data_cmd
    from crossspec.cli.eval_cmd import eval_cmd
    from crossspec.cli.models_cmd import models_cmd
    from crossspec.cli.plot_cmd import plot_cmd
    from crossspec.cli.train_cmd import train_cmd

    return [train_cmd, eval_cmd, colorize_cmd, data_cmd, models_cmd, plot_cmd]
