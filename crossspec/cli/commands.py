"""The list of subcommands; each lives in its own module so they can grow independently."""
from __future__ import annotations

import importlib

import click

# (module, attribute) of every subcommand; a module that is not written yet is simply absent.
_COMMANDS = [
    ("crossspec.cli.eval_cmd", "eval_cmd"),
    ("crossspec.cli.models_cmd", "models_cmd"),
    ("crossspec.cli.data_cmd", "data_cmd"),
    ("crossspec.cli.train_cmd", "train_cmd"),
    ("crossspec.cli.colorize_cmd", "colorize_cmd"),
    ("crossspec.cli.bench_cmd", "bench_cmd"),
]


def all_commands() -> list[click.Command]:
    cmds = []
    for module, attr in _COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        cmds.append(getattr(mod, attr))
    return cmds
