"""Shared by the benchmark scripts: describe the machine and rewrite one marked BENCHMARKS.md section."""
from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "BENCHMARKS.md"


def machine(device: str = "cpu") -> str:
    """CPU model and visible cores (or the GPU name), torch and Python versions."""
    import torch

    if device.startswith("cuda"):
        hw = torch.cuda.get_device_name(torch.device(device))
    else:
        hw = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    hw = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        hw = f"{hw}, {os.cpu_count()} cores visible, {torch.get_num_threads()} torch threads"
        if hasattr(os, "getloadavg"):
            hw += f", load average {os.getloadavg()[0]:.1f} at start"
    return f"{hw}; torch {torch.__version__}, Python {platform.python_version()}"


def header(device: str = "cpu", argv: list[str] | None = None) -> str:
    """Command, machine and date lines that open every section."""
    argv = sys.argv if argv is None else argv
    cmd = " ".join(["python", os.path.relpath(argv[0], REPO), *(shlex.quote(a) for a in argv[1:])])
    return f"Command: `{cmd}`  \nMachine: {machine(device)}  \nDate: {dt.date.today().isoformat()}\n"


def write_section(name: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` (atomically)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    doc = path.read_text()
    if start not in doc or end not in doc:
        raise SystemExit(f"{path}: markers {start} / {end} not found")
    new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{body.strip()}\n{end}", doc, flags=re.S)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new)
    os.replace(tmp, path)
