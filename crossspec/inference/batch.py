"""Many inputs at once: collect files and folders, name outputs, skip finished ones, report bad files.

A bad input (corrupt, empty, too small, with alpha, all nodata...) is reported by name and skipped;
the run goes on and the summary says what failed.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from crossspec.errors import CrossspecError, DataError, file_error
from crossspec.inference.output_provenance import differences, read_record
from crossspec.inference.source import input_kind, output_name
from crossspec.io.atomic import TMP_MARKER
from crossspec.io.raster import RASTER_EXTENSIONS, is_gdal_path

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
    """One input (a file, or a GDAL path as a string) and where its colorized output goes;
    ``kind`` is ``"raster"`` or ``"image"`` (:func:`crossspec.inference.source.input_kind`)."""

    src: Path | str
    dst: Path
    kind: str

    @property
    def name(self) -> str:
        return self.dst.name if isinstance(self.src, str) else self.src.name


@dataclass
class Summary:
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list[tuple[Path | str, str]] = field(default_factory=list)

    def line(self) -> str:
        return f"{len(self.done)} colorized, {len(self.skipped)} skipped (already done), {len(self.failed)} failed"


def _job(src: Path | str, out_dir: Path, rel_parent: Path, raster_options: bool) -> Job:
    kind = input_kind(src, raster_options)
    return Job(src, out_dir / rel_parent / output_name(src, kind), kind)


def _folder_files(folder: Path, glob: str | None) -> list[Path]:
    """Files under ``folder`` matching ``glob``; links that cannot be followed are reported, not dropped silently."""
    files = []
    for f in sorted(folder.rglob(glob or "*")):
        if f.is_file():
            files.append(f)
        elif f.is_symlink() and not f.exists():
            try:
                f.resolve(strict=True)
            except RuntimeError:
                log.warning("%s: symbolic link loop; skipped", f)
            except OSError as exc:
                reason = "symbolic link loop" if "loop" in str(exc).lower() else "broken symbolic link"
                log.warning("%s: %s; skipped", f, reason)
    return files


def collect_jobs(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                 glob: str | None = None, raster_options: bool = False) -> list[Job]:
    """Jobs for files, GDAL paths and (recursively) folders; a folder's sub-folders are mirrored
    under ``out_dir``. ``raster_options``: the user gave band/scaling/nodata (every input is then
    read as a raster).

    Folders contribute files matching ``glob`` (default: every image/raster suffix); temporary
    files of interrupted runs and anything already inside ``out_dir`` are ignored. An output that
    would land on an input (same file, through any link) is refused before anything is written.
    """
    out_dir = Path(out_dir)
    exts = input_extensions()
    out_resolved = out_dir.resolve()
    jobs: list[Job] = []
    for item in inputs:
        if is_gdal_path(item):
            jobs.append(_job(os.fspath(item), out_dir, Path(), raster_options))
            continue
        p = Path(item)
        if p.is_dir():
            for f in _folder_files(p, glob):
                if TMP_MARKER in f.name or f.suffix.lower() not in exts:
                    continue
                if out_resolved in f.resolve().parents:
                    continue
                jobs.append(_job(f, out_dir, f.parent.relative_to(p), raster_options))
        elif p.exists():
            jobs.append(_job(p, out_dir, Path(), raster_options))
        else:
            raise DataError(f"{p}: no such file or folder")
    seen: dict[Path, Path | str] = {}
    for j in jobs:
        if j.dst in seen:
            raise DataError(f"{j.src}: its output {j.dst} would also be written for {seen[j.dst]}; "
                            "rename one of them or colorize them separately")
        seen[j.dst] = j.src
    _refuse_outputs_on_inputs(jobs)
    return jobs


def _refuse_outputs_on_inputs(jobs: list[Job]) -> None:
    # Compare what the names point at (device, inode): catches "-o ." beside the input, a
    # symlinked output folder and hard links alike.
    inputs = {}
    for j in jobs:
        if isinstance(j.src, Path):
            st = j.src.stat()
            inputs[(st.st_dev, st.st_ino)] = j.src
    for j in jobs:
        try:
            st = j.dst.stat()
        except OSError:
            continue
        hit = inputs.get((st.st_dev, st.st_ino))
        if hit is not None:
            what = "this input itself" if hit == j.src else f"the input {hit}"
            raise file_error(j.src, f"its output {j.dst} is {what}; colorizing would destroy it. "
                                    "Choose an output folder (-o) apart from the inputs")


def check_output_folder(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` and make sure files can be created in it, before any work is done."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", suffix=TMP_MARKER, dir=out_dir)
    except FileExistsError:
        raise file_error(out_dir, "exists and is not a folder") from None
    except OSError as exc:
        raise file_error(out_dir, f"cannot write to this output folder ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)
    return out_dir


def remove_stale_temporaries(dst: Path) -> None:
    """Delete temporary files an interrupted earlier run left for ``dst``."""
    if dst.parent.is_dir():
        for f in dst.parent.glob(f".{dst.stem}.*{TMP_MARKER}*"):
            log.debug("removing leftover %s", f)
            f.unlink(missing_ok=True)


def existing_output_problem(job: Job, expected: Callable[[Job], dict] | None, resume: bool) -> str | None:
    """Why an existing output of ``job`` is not a finished one for these settings; ``None`` when it is."""
    if not resume:
        return f"{job.dst}: exists already (pass --overwrite to replace it)"
    old = read_record(job.dst)
    if old is None:
        return (f"{job.dst}: exists but has no crossspec provenance record, so it is not known to be a "
                "finished output of these settings (pass --overwrite to replace it)")
    if expected is None:
        return None
    diff = differences(old, expected(job))
    if diff:
        return (f"{job.dst}: exists but was made with other settings ({'; '.join(diff)}); "
                "pass --overwrite to replace it, or choose another -o")
    return None


def run_jobs(jobs: list[Job], process: Callable[[Job], None], *, overwrite: bool = False,
             resume: bool = True, on_file: Callable[[Job], None] | None = None,
             verbose: bool = False, expected: Callable[[Job], dict] | None = None) -> Summary:
    """Run ``process(job)`` for each job; finished outputs are skipped (``resume``) or refused.

    An existing output is finished when its provenance record matches ``expected(job)``
    (:mod:`crossspec.inference.output_provenance`); one without a record, or with other settings, is
    an error for that file unless ``overwrite``. A folder at an output's name is always an error.
    Errors are caught per file, logged as ``"<file>: <problem>"`` and collected in the summary.
    """
    summary = Summary()
    for job in jobs:
        if on_file is not None:
            on_file(job)
        try:
            problem = None
            if job.dst.is_dir():
                problem = f"{job.dst}: is a folder; the output file cannot be written in its place"
            elif job.dst.exists() and not overwrite:
                problem = existing_output_problem(job, expected, resume)
                if problem is None:
                    summary.skipped.append(job.src)
                    continue
            if problem is not None:
                summary.failed.append((job.src, problem))
                log.error("%s", problem)
                continue
            if resume:
                remove_stale_temporaries(job.dst)
            process(job)
        except CrossspecError as exc:
            msg = str(exc) if str(exc).startswith(str(job.src)) else f"{job.src}: {exc}"
            summary.failed.append((job.src, msg))
        except OSError as exc:
            where = exc.filename or job.dst
            summary.failed.append((job.src, f"{job.src}: cannot write {where} ({exc.strerror or exc})"))
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
