"""Errors a user can act on.

`CrossspecError` is raised for bad input (a file that cannot be read, a split that does not exist,
a config key that is unknown...). The CLI prints its message on one line and exits non-zero, with
no traceback unless `-v` is given. Messages name the file (or key) and say what is wrong.
"""
from __future__ import annotations

import os


class CrossspecError(Exception):
    """A problem with the user's input, worth one clear line rather than a traceback."""


class DataError(CrossspecError):
    """A data file or dataset root is missing, unreadable or malformed."""


class ConfigError(CrossspecError):
    """A configuration key or value is wrong."""


def file_error(path: str | os.PathLike, problem: str, cls: type[CrossspecError] = DataError) -> CrossspecError:
    """Build an error whose message starts with the file name: ``"{path}: {problem}"``."""
    return cls(f"{os.fspath(path)}: {problem}")
