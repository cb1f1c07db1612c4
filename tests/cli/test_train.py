from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.engine.tiny_data import TinyPairs

from crossspec.cli import main

CONFIG = """
model: {name: unet, kwargs: {base: 8, depth: 3}}
data: {crop: 8, batch_size: 2}
train: {steps: 3, lr: 1.0e-3, log_every: 1}
loss: {weights: {l1: 1.0}}
"""


@pytest.fixture
def tiny_data(monkeypatch):
    # The CLI builds datasets by name; give it tiny in-memory ones instead.
    monkeypatch.setattr("crossspec.engine.trainer.build_datasets",
                        lambda cfg: (TinyPairs(n=4, size=16, crop=8), TinyPairs(n=1, size=16)))


def test_train_cli_end_to_end(tmp_path, tiny_data):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(CONFIG)
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        r = runner.invoke(main, ["-q", "train", "--domain", "nir", "--config", str(cfg), "--device", "cpu",
                                 "train.lr=5e-4"])
        assert r.exit_code == 0, r.output
        assert "nir-gray baseline PSNR" in r.output
        run = Path("runs/exp")
        assert (run / "checkpoints/last.safetensors").is_file() and (run / "preview.png").is_file()
        assert "lr: 0.0005" in (run / "config.yaml").read_text()
        # a finished run is not clobbered
        r = runner.invoke(main, ["train", "--domain", "nir", "--config", str(cfg), "--device", "cpu"])
        assert r.exit_code == 1 and "holds a previous run" in r.output and "Traceback" not in r.output
        # --resume continues from the saved config; an override extends the run
        r = runner.invoke(main, ["-q", "train", "--domain", "nir", "--out", "runs/exp", "--resume", "--device", "cpu",
                                 "train.steps=4"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["-q", "train", "--domain", "nir", "--config", str(cfg), "--device", "cpu",
                                 "--overwrite"])
        assert r.exit_code == 0, r.output


@pytest.mark.parametrize("args, message, code", [
    (["train.lrr=1"], "train.lrr: unknown key (did you mean 'train.lr'?)", 1),
    (["train.lr=abc"], "train.lr: expected float, got 'abc'", 1),
    (["--resume", "--overwrite"], "choose one", 2),  # conflicting flags: a usage error, like click's own
])
def test_train_cli_errors_are_one_line(tmp_path, args, message, code):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(CONFIG)
    r = CliRunner().invoke(main, ["train", "--domain", "nir", "--config", str(cfg), "--out", str(tmp_path / "o"),
                                  *args])
    assert r.exit_code == code
    assert message in r.output and "Traceback" not in r.output


def test_domain_and_run_folder_come_from_the_config(tmp_path, monkeypatch):
    monkeypatch.setattr("crossspec.engine.trainer.build_datasets", lambda cfg: (
        TinyPairs(n=4, size=16, crop=8, domain=cfg.domain), TinyPairs(n=1, size=16, domain=cfg.domain)))
    # Same file name for two domains: each gets its own run folder, and its own domain.
    for domain in ("nir", "gray"):
        (tmp_path / "configs" / domain).mkdir(parents=True)
        (tmp_path / "configs" / domain / "exp.yaml").write_text(f"domain: {domain}\n" + CONFIG)
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        for domain in ("nir", "gray"):
            r = runner.invoke(main, ["-q", "train", "--config", str(tmp_path / "configs" / domain / "exp.yaml"),
                                     "--device", "cpu", "--threads", "1", "train.steps=1"])
            assert r.exit_code == 0, r.output
            saved = Path("runs", domain, "exp", "config.yaml").read_text()
            assert f"domain: {domain}" in saved


DEMO_CONFIG = """
model: {name: unet, kwargs: {base: 8, depth: 3}}
data: {dataset: demo, kwargs: {size: 32, length: 12}, train_split: train, val_split: val, crop: 16, batch_size: 4}
train: {steps: 10, lr: 1.0e-3, ckpt_every: 2, val_every: 5, log_every: 1}
loss: {weights: {l1: 1.0}}
"""

# Runs the real CLI in a child process that SIGKILLs itself right after optimizer step 7
# (last checkpoint: step 6), i.e. `kill -9` mid-run with no chance to clean up.
_KILLED_CHILD = """
import os, signal, sys
from crossspec.engine import trainer
_init = trainer.Trainer.__init__
def init(self, *a, **k):
    _init(self, *a, **k)
    self.step_hook = lambda step: os.kill(os.getpid(), signal.SIGKILL) if step == 7 else None
trainer.Trainer.__init__ = init
from crossspec.cli import main
main(sys.argv[1:])
"""


def test_kill_9_then_resume_gives_the_uninterrupted_weights(tmp_path):
    import subprocess
    import sys

    import torch
    from safetensors.torch import load_file

    cfg = tmp_path / "demo.yaml"
    cfg.write_text(DEMO_CONFIG)
    args = ["-q", "train", "--domain", "nir", "--config", str(cfg), "--device", "cpu"]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}

    def run(argv, expect):
        p = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == expect, p.stdout[-2000:] + p.stderr[-2000:]

    run([sys.executable, "-m", "crossspec", *args, "--out", "straight"], 0)
    run([sys.executable, "-c", _KILLED_CHILD, *args, "--out", "killed"], -9)
    state = torch.load(tmp_path / "killed/checkpoints/last.state.pt", weights_only=True)
    assert state["step"] == 6
    run([sys.executable, "-m", "crossspec", *args, "--out", "killed", "--resume"], 0)
    a = load_file(str(tmp_path / "straight/checkpoints/last.safetensors"))
    b = load_file(str(tmp_path / "killed/checkpoints/last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # no temporary files were left behind by the kill
    assert not [p for p in (tmp_path / "killed").rglob("*") if "tmp" in p.name]


def test_train_binary_config_is_a_one_line_error(tmp_path):
    cfg = tmp_path / "weights.safetensors"
    cfg.write_bytes(bytes(range(256)) * 4)
    r = CliRunner().invoke(main, ["train", "--domain", "nir", "--config", str(cfg), "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output == f"Error: {cfg}: not a text file (byte 0x80 at offset 128 is not UTF-8); give the experiment's YAML file\n"
    assert not (tmp_path / "run").exists()
