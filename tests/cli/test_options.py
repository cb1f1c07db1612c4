import torch
from click.testing import CliRunner

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
