"""Where a run came from: code version, libraries, device and threads, recorded in ``run.json``.

A run folder's ``run.json`` holds one *session* per start of the trainer (a fresh start, then one
per ``--resume``), so a run resumed on another machine or after a code change says so:

    {"format": 1, "sessions": [{"start_step": 0, "crossspec_version": "0.1.0",
                                "git_commit": "dfbe4eb-dirty", "torch_version": "2.13.0", ...}, ...]}

Shipped pretrained models copy these sessions into their manifest (``crossspec.io.shipped_weights``).
"""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from crossspec.errors import CrossspecError, file_error

RUN_JSON = "run.json"
FORMAT = 1
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _git(git: str, cwd: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run([git, *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None  # git is there but cannot run: the commit is simply unknown


def git_commit(package_dir: str | Path = PACKAGE_DIR) -> str | None:
    """Short commit of the checkout the code runs from, ``-dirty`` when tracked or untracked (not
    ignored) files differ from it; ``None`` without git or outside a checkout that tracks the package."""
    git = shutil.which("git")
    if git is None:
        return None
    cwd = Path(package_dir)
    # The package must be tracked there: an installed copy inside some unrelated repository has no commit.
    tracked = _git(git, cwd, "ls-files", "--error-unmatch", "__init__.py")
    head = _git(git, cwd, "rev-parse", "--short", "HEAD")
    if tracked is None or head is None or tracked.returncode or head.returncode:
        return None
    status = _git(git, cwd, "status", "--porcelain")
    commit = head.stdout.strip()
    if status is None or status.returncode:
        return f"{commit}-unknown-state"
    return f"{commit}-dirty" if status.stdout.strip() else commit


def _scan_backend(device: torch.device) -> str:
    from crossspec.ops.scan import resolve_backend

    try:
        return resolve_backend(None, device)
    except CrossspecError as exc:  # a bad $CROSSSPEC_SCAN_BACKEND: record it; Mamba models will refuse it later
        return f"unresolved ({exc})"


def _command() -> str:
    argv = list(sys.argv)
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "crossspec":
        argv[0] = "python -m crossspec"  # rather than the path of the module file
    return " ".join(argv)


def collect(device: str | torch.device = "cpu", *, world_size: int = 1) -> dict[str, Any]:
    """Provenance of the current process: versions, commit, device, threads, command line."""
    from crossspec import __version__

    device = torch.device(device)
    info: dict[str, Any] = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "crossspec_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "world_size": int(world_size),
        "scan_backend": _scan_backend(device),
        "command": _command(),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda_version"] = torch.version.cuda
    return info


def read_run_json(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's provenance record, or ``None`` for a run folder written before it existed."""
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise file_error(path, f"not valid JSON ({exc}); delete it to start a new provenance record",
                         CrossspecError) from None
    if not isinstance(record, dict) or not isinstance(record.get("sessions"), list):
        raise file_error(path, "has no 'sessions' list; delete it to start a new provenance record", CrossspecError)
    return record


def record_session(run_dir: str | Path, session: dict[str, Any], *, resume: bool) -> Path:
    """Write ``run.json`` with ``session`` as its first session, or (``resume``) append it."""
    from crossspec.io.atomic import atomic_path

    previous = read_run_json(run_dir) if resume else None
    sessions = (previous["sessions"] if previous else []) + [session]
    path = Path(run_dir) / RUN_JSON
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, "sessions": sessions}, indent=2) + "\n", encoding="utf-8")
    return path
