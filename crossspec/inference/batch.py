"""Many inputs at once: collect files and folders, name outputs, skip finished ones, report bad files.

A bad input (corrupt, empty, too small, with alpha, all nodata...) is reported by name and skipped;
the run goes on and the summary says what failed.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from crossspec.errors import CrossspecError, DataError
from crossspec.io.atomic import TMP_MARKER
from crossspec.io.raster import RASTER_EXTENSIONS, is_georeferenced_raster

log = logging.getLogger("crossspec")

# Image suffixes the image reader handles; kept here as a fallback so collecting files does not
# depend on the reader being importable.
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def input_extensions() -> tuple[str, ...]:
    try:
        from crossspec.io.image import IMAGE_EXTENSIONS
    except ImportError:
        IMAGE_EXTENSIONS = _IMAGE_EXTENSIONS
    return tuple(sorted({e.lower() for e in (*IMAGE_EXTENSIONS, *RASTER_EXTENSIONS)}))


@dataclass(frozen=True)
class Job:
    """One input file and where its colorized output goes; ``kind`` is ``"raster"`` or ``"image"``."""

    src: Path
    dst: Path
    kind: str


@dataclass
class Summary:
    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def line(self) -> str:
        return f"{len(self.done)} colorized, {len(self.skipped)} skipped (already done), {len(self.failed)} failed"


def _job(src: Path, out_dir: Path, rel_parent: Path) -> Job:
    kind = "raster" if is_georeferenced_raster(src) else "image"
    suffix = ".tif" if kind == "raster" else ".png"
    return Job(src, out_dir / rel_parent / f"{src.stem}{suffix}", kind)


def collect_jobs(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                 glob: str | None = None) -> list[Job]:
    """Jobs for files and (recursively) folders; a folder's sub-folders are mirrored under ``out_dir``.

    Folders contribute files matching ``glob`` (default: every image/raster suffix); temporary
    files of interrupted runs and anything already inside ``out_dir`` are ignored.
    """
    out_dir = Path(out_dir)
    exts = input_extensions()
    out_resolved = out_dir.resolve()
    jobs: list[Job] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.rglob(glob or "*") if f.is_file())
            for f in files:
                if TMP_MARKER in f.name or f.suffix.lower() not in exts:
                    continue
                if out_resolved in f.resolve().parents:
                    continue
                jobs.append(_job(f, out_dir, f.parent.relative_to(p)))
        elif p.exists():
            jobs.append(_job(p, out_dir, Path()))
        else:
            raise DataError(f"{p}: no such file or folder")
    seen: dict[Path, Path] = {}
    for j in jobs:
        if j.dst in seen:
            raise DataError(f"{j.src}: its output {j.dst} would also be written for {seen[j.dst]}; "
                            "rename one of them or colorize them separately")
        seen[j.dst] = j.src
    return jobs


def remove_stale_temporaries(dst: Path) -> None:
    """Delete temporary files an interrupted earlier run left for ``dst``."""
    if dst.parent.is_dir():
        for f in dst.parent.glob(f".{dst.stem}.*{TMP_MARKER}*"):
            log.debug("removing leftover %s", f)
            f.unlink(missing_ok=True)


def run_jobs(jobs: list[Job], process: Callable[[Job], None], *, overwrite: bool = False,
             resume: bool = True, on_file: Callable[[Job], None] | None = None,
             verbose: bool = False) -> Summary:
    """Run ``process(job)`` for each job; finished outputs are skipped (``resume``) or refused.

    Errors are caught per file, logged as ``"<file>: <problem>"`` and collected in the summary.
    """
    summary = Summary()
    for job in jobs:
        if on_file is not None:
            on_file(job)
        if job.dst.exists() and not overwrite:
            if resume:
                summary.skipped.append(job.src)
                continue
            summary.failed.append((job.src, f"{job.dst}: exists already (pass --overwrite to replace it)"))
            log.error("%s", summary.failed[-1][1])
            continue
        if resume:
            remove_stale_temporaries(job.dst)
        try:
            process(job)
        except CrossspecError as exc:
            msg = str(exc) if str(exc).startswith(str(job.src)) else f"{job.src}: {exc}"
            summary.failed.append((job.src, msg))
        except Exception as exc:  # noqa: BLE001  one bad file must not end a folder run; it is reported
            first = str(exc).splitlines()[0] if str(exc) else ""
            summary.failed.append((job.src, f"{job.src}: cannot be colorized ({type(exc).__name__}: {first})"))
            if verbose:
                log.exception("%s", job.src)
        else:
            summary.done.append(job.src)
            continue
        log.error("%s", summary.failed[-1][1])
    return summary
