import json
import shutil
import subprocess

import pytest
import torch

from tests.engine.test_trainer import make_cfg, sets

from crossspec import __version__
from crossspec.engine import run_provenance as provenance
from crossspec.engine.trainer import Trainer
from crossspec.errors import ConfigError, CrossspecError


def test_run_json_records_each_session(tmp_path):
    train, val = sets()
    cfg = make_cfg(train__steps=4, train__ckpt_every=2)
    Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit(stop_after=2)
    first = json.loads((tmp_path / "run/run.json").read_text())["sessions"]
    assert len(first) == 1
    s = first[0]
    assert s["start_step"] == 0 and s["crossspec_version"] == __version__
    assert s["torch_version"] == torch.__version__ and s["device"] == "cpu"
    assert s["threads"] == torch.get_num_threads() and s["world_size"] == 1
    assert s["git_commit"] == provenance.git_commit()
    Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False, resume=True).fit()
    sessions = json.loads((tmp_path / "run/run.json").read_text())["sessions"]
    assert [x["start_step"] for x in sessions] == [0, 2] and sessions[0] == s
    # --overwrite starts the record over
    Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False, overwrite=True).fit()
    assert [x["start_step"] for x in json.loads((tmp_path / "run/run.json").read_text())["sessions"]] == [0]


def test_corrupt_run_json_is_named(tmp_path):
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(CrossspecError, match="run.json: not valid JSON"):
        provenance.read_run_json(tmp_path)
    assert provenance.read_run_json(tmp_path / "elsewhere") is None


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_short_and_dirty(tmp_path):
    pkg = tmp_path / "repo" / "crossspec"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    _git(tmp_path / "repo", "init", "-q")
    assert provenance.git_commit(pkg) is None  # a checkout that does not track the package yet
    _git(tmp_path / "repo", "add", ".")
    _git(tmp_path / "repo", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=pkg, capture_output=True, text=True).stdout.strip()
    assert provenance.git_commit(pkg) == head
    (pkg / "__init__.py").write_text("x = 2\n")
    assert provenance.git_commit(pkg) == f"{head}-dirty"


def test_git_commit_without_git_or_checkout(tmp_path, monkeypatch):
    (tmp_path / "__init__.py").write_text("")
    assert provenance.git_commit(tmp_path) is None  # not a checkout
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert provenance.git_commit() is None


def test_bad_scan_backend_is_recorded_not_raised(monkeypatch):
    monkeypatch.setenv("CROSSSPEC_SCAN_BACKEND", "warp-drive")
    assert provenance.collect("cpu")["scan_backend"].startswith("unresolved")


def test_trainer_refuses_pretrained_name(tmp_path, monkeypatch):
    from tests.models.test_pretrained import ship

    from crossspec.io import shipped_weights as P

    monkeypatch.setattr(P, "WEIGHTS_DIR", tmp_path / "weights")
    ship(tmp_path / "weights")
    train, val = sets()
    cfg = make_cfg(model__name="unet-test")
    with pytest.raises(ConfigError, match="train its architecture instead \\(model.name: unet\\)"):
        Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
