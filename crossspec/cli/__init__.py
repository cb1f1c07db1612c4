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
    """A group that turns CrossspecError (and missing files) into one-line messages, and imports a
    subcommand's module only when that subcommand is used (:mod:`crossspec.cli.commands`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from crossspec.cli.commands import COMMANDS

        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from crossspec.cli.commands import COMMANDS, load_command

        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        cmd = load_command(cmd_name)
        self.add_command(cmd, cmd_name)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing uses the help lines kept in COMMANDS, so it imports no subcommand module.
        from crossspec.cli.commands import COMMANDS

        limit = formatter.width - 6 - max(len(n) for n in COMMANDS)
        rows = []
        for name in self.list_commands(ctx):
            if name in COMMANDS and name not in self.commands:
                rows.append((name, click.utils.make_default_short_help(COMMANDS[name][1], limit)))
            else:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
