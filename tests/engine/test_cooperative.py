"""The cooperative model in the training engine: stages, frozen parts, gray pool, exact resume."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.engine.tiny_data import TinyPairs

from crossspec.config import from_dict
from crossspec.engine.tasks.cooperative import WithGray, stage_at, stage_lr_lambdas
from crossspec.engine.data import SeededDataset
from crossspec.engine.trainer import Trainer, lr_factor
from crossspec.errors import ConfigError, DataError
from crossspec.models import get_entry
from crossspec.models import load_model

WARMUP = {"nir_color": 1.0, "gray_color": 1.0, "translate": 1.0, "cycle": 0.5}
JOINT = {**WARMUP, "translated_color": 0.5, "pixel_consistency": 0.5, "feature_consistency": 0.1}


def coop_cfg(name="cocolor-small", steps=(2, 2), frozen=(), domain="nir", **data):
    return from_dict({
        "domain": domain,
        "model": {"name": name, "kwargs": dict(get_entry(name).tiny_kwargs)},
        "data": {"crop": 32, "batch_size": 2, "workers": 0, **data},
        "train": {"lr": 1e-3, "log_every": 1, "ema_decay": 0.9, "seed": 5, "schedule": "cosine",
                  "warmup_steps": 1, "ckpt_every": 2, "keep_periodic": True},
        "loss": {"weights": {"l1": 1.0, "hsv_mse": 0.1}},
        "stages": [{"name": "warmup", "steps": steps[0], "weights": WARMUP},
                   {"name": "joint", "steps": steps[1], "weights": JOINT, "frozen": list(frozen)}],
    })


def sets(domain="nir"):
    return (TinyPairs(n=4, size=48, crop=32, domain=domain), TinyPairs(n=1, size=32, seed=1, domain=domain))


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.parametrize("name", ["cocolor", "cocolor-small"])
def test_stages_run_and_log_their_terms(tmp_path, name):
    train, val = sets()
    res = Trainer(coop_cfg(name), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert res.step == 4
    lines = [json.loads(l) for l in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    steps = {l["step"]: l for l in lines if l["kind"] == "train"}
    assert set(WARMUP) <= set(steps[2]) and "pixel_consistency" not in steps[2]
    assert set(JOINT) <= set(steps[3])
    for domain in ("nir", "gray"):
        model = load_model(tmp_path / "run")
        assert model(torch.rand(1, 1, 32, 32), domain=domain).shape == (1, 3, 32, 32)


def test_frozen_parts_do_not_move(tmp_path):
    train, val = sets()
    Trainer(coop_cfg(frozen=["translators"]), tmp_path / "run", device="cpu", train_set=train, val_set=val,
            progress=False).fit()
    mid = _weights(tmp_path / "run/checkpoints/step_0000002.safetensors")
    end = _weights(tmp_path / "run/checkpoints/last.safetensors")
    moved = {k.split(".")[1] for k in mid if k.startswith("model.") and not torch.equal(mid[k], end[k])}
    assert moved == {"colorizer"}
    start_translators = [k for k in mid if k.startswith("model.nir2gray.")]
    assert start_translators


def test_stage_schedule_restarts_and_freezes():
    cfg = coop_cfg(steps=(10, 20), frozen=["nir2gray"])
    cfg.stages[1].lr = cfg.train.lr / 2
    assert [stage_at(cfg.stages, s) for s in (0, 9, 10, 29, 35)] == [(0, 0), (0, 0), (1, 10), (1, 10), (1, 10)]
    colorizer, nir2gray, gray2nir = stage_lr_lambdas(cfg, 1, lr_factor)
    assert nir2gray(5) == colorizer(5) > 0 and nir2gray(12) == 0.0
    # the joint stage restarts warm-up and cosine from its own first step, at half the lr
    assert colorizer(10) == pytest.approx(0.5 * lr_factor(cfg, 0, 1, 20))
    assert gray2nir(29) == pytest.approx(0.5 * lr_factor(cfg, 19, 1, 20))


def test_resume_inside_a_stage_matches_straight_run(tmp_path):
    train, val = sets()
    straight = Trainer(coop_cfg(steps=(2, 3)), tmp_path / "a", device="cpu", train_set=train, val_set=val,
                       progress=False).fit()
    t = Trainer(coop_cfg(steps=(2, 3)), tmp_path / "b", device="cpu", train_set=train, val_set=val, progress=False)
    assert t.fit(stop_after=3).stopped_early
    resumed = Trainer(coop_cfg(steps=(2, 3)), tmp_path / "b", device="cpu", resume=True, train_set=train,
                      val_set=val, progress=False).fit()
    assert resumed.step == straight.step == 5
    wa, wb = _weights(straight.last), _weights(resumed.last)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_gray_draw_is_seeded():
    pairs, pool = TinyPairs(n=4, size=32, crop=16), TinyPairs(n=9, size=32, crop=16, seed=2, domain="gray")
    ds = SeededDataset(WithGray(pairs, pool), seed=3)
    a, b = ds[(1, 2)], ds[(1, 2)]
    assert torch.equal(a["gray_input"], b["gray_input"]) and a["gray_target"].shape == (3, 16, 16)
    draws = {float(ds[(e, 0)]["gray_input"].sum()) for e in range(6)}
    assert len(draws) > 1


def _rgb_png(path, h, w, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(0).integers(0, 256, (h, w, 3) if mode == "RGB" else (h, w), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def test_gray_folder_problems_stop_before_training(tmp_path):
    train, val = sets()
    photos = tmp_path / "photos"
    _rgb_png(photos / "a/one.png", 40, 50)
    _rgb_png(photos / "two.jpg", 64, 36)
    src = [{"dataset": "rgb-folder", "root": str(photos)}]
    cfg = coop_cfg(gray_sources=src)
    res = Trainer(cfg, tmp_path / "ok", device="cpu", train_set=train, val_set=val, progress=False).fit(stop_after=1)
    assert res.step == 1
    _rgb_png(photos / "small.png", 20, 80)
    with pytest.raises(DataError, match=r"1 image\(s\) smaller than data.crop=32: small.png \(20x80\)"):
        Trainer(coop_cfg(gray_sources=src), tmp_path / "r1", device="cpu", train_set=train, val_set=val,
                progress=False).fit()
    (photos / "small.png").unlink()
    _rgb_png(photos / "b/gray.png", 40, 40, mode="L")
    with pytest.raises(DataError, match=r"single channel.*gray.png \(L\)"):
        Trainer(coop_cfg(gray_sources=src), tmp_path / "r2", device="cpu", train_set=train, val_set=val,
                progress=False).fit()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="empty: no readable image"):
        Trainer(coop_cfg(gray_sources=[{"dataset": "rgb-folder", "root": str(empty)}]), tmp_path / "r3",
                device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert not (tmp_path / "r3/checkpoints").exists()
    with pytest.raises(ConfigError, match="needs gray images"):
        Trainer(coop_cfg(gray_from_pairs=False), tmp_path / "r4", device="cpu", train_set=train, val_set=val,
                progress=False).fit()


def test_stage_model_mismatches_are_config_errors(tmp_path):
    train, val = sets()
    cfg = coop_cfg()
    cfg.model.name, cfg.model.kwargs = "unet", {"base": 8, "depth": 3}
    with pytest.raises(ConfigError, match="only cooperative models"):
        Trainer(cfg, tmp_path / "a", device="cpu", train_set=train, val_set=val, progress=False).fit()
    cfg = coop_cfg()
    cfg.stages = []
    with pytest.raises(ConfigError, match="trains in stages"):
        Trainer(cfg, tmp_path / "b", device="cpu", train_set=train, val_set=val, progress=False).fit()
    cfg = coop_cfg()
    cfg.stages, cfg.model.name, cfg.model.kwargs = [], "nir2gray", {}
    with pytest.raises(ConfigError, match="is a domain translator"):
        Trainer(cfg, tmp_path / "c", device="cpu", train_set=train, val_set=val, progress=False).fit()


def test_gray_domain_run_validates_the_gray_path(tmp_path):
    train, val = sets(domain="gray")
    res = Trainer(coop_cfg(domain="gray"), tmp_path / "g", device="cpu", train_set=train, val_set=val,
                  progress=False).fit()
    model = load_model(tmp_path / "g")
    x, y = val[0]["input"][None], val[0]["target"][None]
    from crossspec.metrics import psnr

    with torch.no_grad():
        pred = torch.round(model(x, domain="gray").clamp(0, 1) * 255) / 255
    assert res.metrics["psnr"] == pytest.approx(float(psnr(pred, y)), abs=1e-4)


@pytest.mark.parametrize("stage, message", [
    ({"weights": {"pixel_consistancy": 1.0}},
     r"stages\[1\] \(joint\)\.weights\.pixel_consistancy: unknown loss term \(did you mean 'pixel_consistency'\?\)"),
    ({"weights": {"nir_color": 1.0}, "frozen": ["decoder"]}, r"stages\[1\] \(joint\)\.frozen: unknown part 'decoder'"),
])
def test_stage_vocabulary_is_checked_before_any_data_is_read(tmp_path, stage, message):
    # the cooperative task owns the names a stage may use; the config only checks their shape
    cfg = coop_cfg()
    cfg.stages[1].weights = stage["weights"]
    cfg.stages[1].frozen = stage.get("frozen", [])
    train, val = sets()
    with pytest.raises(ConfigError, match=message):
        Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert not (tmp_path / "run/checkpoints").exists()
