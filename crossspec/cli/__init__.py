"""The ``crossspec`` command: a click group whose subcommands are thin layers over the API.

Each subcommand lives in its own module and is added to the group below. User errors
(:class:`crossspec.errors.CrossspecError`) print one line and exit with status 1; ``-v`` shows the
traceback as well.
"""
from __future__ import annotations

import logging
import sys

import click

from crossspec import __version__
from crossspec.errors import CrossspecError

log = logging.getLogger("crossspec")


class CrossspecGroup(click.Group):
    """A group that turns CrossspecError (and missing files) into one-line messages."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (CrossspecError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            verbosity = (ctx.obj or {}).get("verbosity", 0)
            if verbosity > 0:
                import traceback

                traceback.print_exc()
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=CrossspecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More output; tracebacks for errors.")
@click.option("-q", "--quiet", count=True, help="Less output (no progress bars).")
@click.version_option(__version__, prog_name="crossspec")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: int) -> None:
    """crossspec: colorize near-infrared and grayscale images into RGB."""
    verbosity = verbose - quiet
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = verbosity
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    # GDAL's own error chatter ("GDAL signalled an error: ...") repeats what our one-line errors
    # say; show it only with -v.
    logging.getLogger("rasterio").setLevel(logging.DEBUG if verbosity > 0 else logging.CRITICAL)


def _register_commands() -> None:
    from crossspec.cli import commands

    for cmd in commands.all_commands():
        main.add_command(cmd)


_register_commands()
