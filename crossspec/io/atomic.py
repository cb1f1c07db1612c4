"""Atomic output files: write to a temporary file beside the target, then rename.

An interrupted run therefore never leaves a half-written output under the final name, and an
existing file is only replaced when the caller says so.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from crossspec.errors import file_error

# Temporary files carry this marker so a resumed run can recognise (and clean) leftovers.
TMP_MARKER = ".crossspec-tmp"


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Raise if ``path`` exists and ``overwrite`` is false; create the parent folder."""
    path = Path(path)
    if path.is_dir():
        raise file_error(path, "is a folder; an output file cannot be written in its place")
    if path.exists() and not overwrite:
        raise file_error(path, "exists already (pass --overwrite / overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success rename it onto ``path``.

    The temporary name keeps the suffix of ``path`` so that writers choosing a format by
    extension (PIL, rasterio) behave. On error the temporary file is removed.
    """
    path = check_writable(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f"{TMP_MARKER}{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file private (0600); outputs get the permissions any new file would get
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        if path.exists() and not overwrite:  # appeared while we were writing
            raise file_error(path, "appeared while writing; not replaced (pass --overwrite)")
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
