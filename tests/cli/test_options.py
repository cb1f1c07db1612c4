import subprocess
import sys

import torch
from click.testing import CliRunner
from click.utils import make_default_short_help

from crossspec.cli import main
from crossspec.cli.options import default_threads


def test_threads_option_sets_torch_threads(tmp_path):
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            # --help is eager and exits first, so use a run that stops at a usage error after parsing
            r = CliRunner().invoke(main, ["colorize", str(tmp_path), "-o", str(tmp_path / "o"), "--threads", str(n),
                                          "--model", "nir-gain", "--checkpoint", str(tmp_path)])
            assert r.exit_code == 2 and "give one of them" in r.output
            assert torch.get_num_threads() == n
    finally:
        torch.set_num_threads(before)


def test_default_threads_honours_omp_and_leaves_cores_free(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(2)))
    assert default_threads() == 1  # torch's default (2 here) collapses when another process holds a core
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)))
    assert default_threads() == 4


def test_every_compute_command_offers_threads():
    for cmd in ("colorize", "eval", "train"):
        r = CliRunner().invoke(main, [cmd, "--help"])
        assert "--threads" in r.output, cmd


def test_top_level_help_lists_commands_without_importing_them():
    code = ("import sys; from click.testing import CliRunner; from crossspec.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
            "assert all(n in r.output for n in ('train', 'eval', 'colorize', 'data', 'models')), r.output; "
            "assert 'torch' not in sys.modules and 'rasterio' not in sys.modules, 'help imported torch/rasterio'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_help_lines_kept_for_the_listing_match_the_commands():
    from crossspec.cli.commands import COMMANDS, load_command

    for name, (_, line) in COMMANDS.items():
        cmd = load_command(name)
        assert cmd.name == name
        assert make_default_short_help(line, 500) == cmd.get_short_help_str(500), name
