"""The list of subcommands; each lives in its own module so they can grow independently.

Modules are imported only when their command runs (or its own ``--help`` is asked for): most of them
import torch, whose import alone takes one to two seconds, and ``crossspec --help`` or a typo should
not wait for it. The one-line help shown by ``crossspec --help`` is kept here for the same reason;
``tests/cli/test_options.py`` checks that it matches each command's docstring.
"""
from __future__ import annotations

import importlib

import click

# name -> ("module:attribute", one-line help for `crossspec --help`), in the order they are listed.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("crossspec.cli.train_cmd:train_cmd",
              "Train a model; every config key can be overridden, e.g. train.lr=2e-4 data.batch_size=4."),
    "eval": ("crossspec.cli.eval_cmd:eval_cmd", "Score colorizations on dataset splits under the VCIP 2020 protocol."),
    "colorize": ("crossspec.cli.colorize_cmd:colorize_cmd",
                 "Colorize NIR or gray INPUT files, folders, rasters and GDAL paths (/vsizip/..., /vsis3/..., "
                 "HDF5:\"f.h5\"://x) into RGB files in the -o folder."),
    "data": ("crossspec.cli.data_cmd:data_cmd", "Dataset utilities."),
    "models": ("crossspec.cli.models_cmd:models_cmd",
               "List registered models with their domains and descriptions; with NAME, show that model "
               "(for a pretrained model: its card)."),
    "plot": ("crossspec.cli.plot_cmd:plot_cmd",
             "Plot the loss terms, learning rate and validation metrics of runs, overlaid (needs matplotlib)."),
}


def load_command(name: str) -> click.Command:
    target, _ = COMMANDS[name]
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def all_commands() -> list[click.Command]:
    """Every subcommand, imported (for tools that want the click objects themselves)."""
    return [load_command(name) for name in COMMANDS]
