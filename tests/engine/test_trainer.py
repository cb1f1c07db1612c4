import json

import pytest
import torch

from tests.engine.tiny_data import TinyPairs

from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer, TrainingError
from crossspec.errors import CrossspecError, DataError
from crossspec.io.weights_file import read_metadata
from crossspec.models import get_entry, list_models, load_model, model_info


def make_cfg(**over):
    data = {"crop": 8, "batch_size": 2, "workers": 0}
    train = {"steps": 4, "lr": 1e-3, "log_every": 1, "ema_decay": 0.9, "seed": 3}
    model = {"name": "unet", "kwargs": {"base": 8, "depth": 3}}
    for key, value in over.items():
        section, name = key.split("__")
        {"data": data, "train": train, "model": model}[section][name] = value
    return from_dict({"model": model, "data": data, "train": train, "loss": {"weights": {"l1": 1.0}}})


def sets(crop=8):
    return TinyPairs(n=6, size=16, crop=crop), TinyPairs(n=2, size=16, seed=1)


def weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_unet_trains_and_writes_run(tmp_path):
    train, val = sets()
    res = Trainer(make_cfg(), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    run = tmp_path / "run"
    assert res.step == 4
    for name in ("config.yaml", "log.jsonl", "preview.png", "checkpoints/last.safetensors",
                 "checkpoints/last.state.pt", "checkpoints/best.safetensors"):
        assert (run / name).is_file(), name
    lines = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines if l["kind"] == "train"] == [1, 2, 3, 4]
    val_line = [l for l in lines if l["kind"] == "val"][-1]
    assert {"psnr", "ssim", "ae", "baseline_psnr"} <= set(val_line)
    assert res.metrics["psnr"] == pytest.approx(val_line["psnr"])
    # the trainer state loads without unpickling arbitrary objects
    state = torch.load(run / "checkpoints/last.state.pt", weights_only=True)
    assert state["step"] == 4 and "optimizer" in state and "rng" in state
    meta = read_metadata(run / "checkpoints/last.safetensors")
    assert meta["model_name"] == "unet" and json.loads(meta["model_kwargs"]) == {"base": 8, "depth": 3}


def _trainable_tiny_models():
    return [m for m in list_models()
            if get_entry(m).trainable and get_entry(m).task == "colorize"
            and {"nir", "gray"} & set(get_entry(m).domains)]


@pytest.mark.parametrize("name", _trainable_tiny_models())
def test_every_trainable_tiny_model_trains(tmp_path, name):
    entry = get_entry(name)
    cfg = make_cfg(model__name=name, train__steps=2, train__ema_decay=None)
    cfg.model.kwargs = dict(entry.tiny_kwargs)
    cfg.domain = entry.domains[0]
    train, val = TinyPairs(n=4, size=32, crop=32, domain=cfg.domain), TinyPairs(n=1, size=32, domain=cfg.domain)
    cfg.data.crop = 32
    res = Trainer(cfg, tmp_path / name, device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert res.step == 2 and res.last.is_file()
    model = load_model(tmp_path / name)
    out = model(torch.rand(1, 1, 32, 32))
    assert out.shape == (1, 3, 32, 32)


def test_checkpoint_round_trip_prefers_ema(tmp_path):
    train, val = sets()
    Trainer(make_cfg(), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    w = weights(tmp_path / "run/checkpoints/last.safetensors")
    model = load_model(tmp_path / "run/checkpoints/last.safetensors")
    for k, v in model.state_dict().items():
        assert torch.equal(v, w[f"ema.{k}"])
    raw = load_model(tmp_path / "run/checkpoints/last.safetensors", prefer_ema=False)
    assert any(not torch.equal(v, w[f"ema.{k}"]) for k, v in raw.state_dict().items())
    assert not model.training
    # a run directory resolves to best, then last
    assert model_info(load_model(tmp_path / "run")).checkpoint["path"].endswith("best.safetensors")


def test_load_model_errors(tmp_path):
    with pytest.raises(CrossspecError, match="did you mean 'unet'"):
        load_model("unte")
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CrossspecError, match="x.safetensors: not a readable safetensors"):
        load_model(bad)
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CrossspecError, match="without crossspec metadata"):
        load_model(tmp_path / "plain.safetensors")
    with pytest.raises(CrossspecError, match="no such checkpoint"):
        load_model(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("kill_at", [None, 5])
def test_exact_resume_matches_uninterrupted(tmp_path, kill_at):
    """Stop (gracefully after 3 steps, or by an exception after step 5 with a checkpoint at 4),
    resume, and end with bit-identical weights to a straight 8-step run (epochs cross: 3 per epoch)."""
    over = dict(train__steps=8, train__ckpt_every=2, train__val_every=3)
    train, val = sets()
    straight = Trainer(make_cfg(**over), tmp_path / "a", device="cpu", train_set=train, val_set=val,
                       progress=False).fit()
    if kill_at is None:
        t = Trainer(make_cfg(**over), tmp_path / "b", device="cpu", train_set=train, val_set=val, progress=False)
        assert t.fit(stop_after=3).stopped_early
    else:
        def hook(step):
            if step == kill_at:
                raise KeyboardInterrupt  # as if killed between steps 5 and 6: last checkpoint is step 4
        t = Trainer(make_cfg(**over), tmp_path / "b", device="cpu", train_set=train, val_set=val, progress=False,
                    step_hook=hook)
        with pytest.raises(KeyboardInterrupt):
            t.fit()
        assert torch.load(tmp_path / "b/checkpoints/last.state.pt", weights_only=True)["step"] == 4
    resumed = Trainer(make_cfg(**over), tmp_path / "b", device="cpu", resume=True, train_set=train, val_set=val,
                      progress=False).fit()
    assert resumed.step == straight.step == 8
    wa, wb = weights(straight.last), weights(resumed.last)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    sa = torch.load(straight.last.with_name("last.state.pt"), weights_only=True)
    sb = torch.load(resumed.last.with_name("last.state.pt"), weights_only=True)
    assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])


def test_max_minutes_stops_the_session_with_validation_and_resume_finishes_the_run(tmp_path):
    """A spent wall-clock budget ends the session after the step in flight: validated, `last` saved;
    --resume without the budget ends bit-identical to a run that never stopped."""
    over = dict(train__steps=6, train__ckpt_every=0, train__val_every=0)
    train, val = sets()
    straight = Trainer(make_cfg(**over), tmp_path / "a", device="cpu", train_set=train, val_set=val,
                       progress=False).fit()
    budget = Trainer(make_cfg(**over, train__max_minutes=1e-9), tmp_path / "b", device="cpu", train_set=train,
                     val_set=val, progress=False).fit()
    assert budget.step == 1 and not budget.stopped_early
    assert budget.metrics["psnr"] > 0 and budget.best is not None
    assert torch.load(tmp_path / "b/checkpoints/last.state.pt", weights_only=True)["step"] == 1
    resumed = Trainer(make_cfg(**over), tmp_path / "b", device="cpu", resume=True, train_set=train, val_set=val,
                      progress=False).fit()
    assert resumed.step == 6
    wa, wb = weights(straight.last), weights(resumed.last)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_minutes_plans_the_length_and_resume_keeps_the_plan(tmp_path, monkeypatch):
    """train.minutes: after the timed steps the run is as long as the budget allows at the measured
    speed (a fake clock makes each step take 1 s), the cosine schedule ends on that length, and a
    resumed run keeps the planned length instead of planning again."""
    import crossspec.engine.trainer as trainer_mod

    clock = {"t": 0.0}

    def tick(step):
        clock["t"] += 1.0

    monkeypatch.setattr(trainer_mod.time, "monotonic", lambda: clock["t"])
    over = dict(train__steps=500, train__ckpt_every=0, train__val_every=0, train__minutes=1.0,
                train__schedule="cosine", train__log_every=1)
    train, val = sets()
    t = Trainer(make_cfg(**over), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False,
                step_hook=tick)
    res = t.fit(stop_after=30)
    planned = torch.load(tmp_path / "run/checkpoints/last.state.pt", weights_only=True)["planned_total"]
    assert abs(planned - 60 * (1 - Trainer.PLAN_RESERVE)) <= 1, planned  # 1 s/step from the start, not the cap
    assert res.step == 30
    resumed = Trainer(make_cfg(**over), tmp_path / "run", device="cpu", resume=True, train_set=train, val_set=val,
                      progress=False).fit()
    assert resumed.step == planned
    lrs = [r["lr"] for r in map(json.loads, (tmp_path / "run/log.jsonl").read_text().splitlines())
           if r.get("kind") == "train" and "lr" in r]
    assert lrs[-1] < 0.05 * lrs[0]  # the cosine reached its end at the planned length


def test_minutes_plans_again_after_the_first_validation_with_its_cost(tmp_path, monkeypatch):
    """Steps take 1 s and each validation 10 s: the plan is made again after the first validation
    that follows it, on the speed measured since the timer started, keeping the smaller reserve."""
    import crossspec.engine.trainer as trainer_mod

    clock = {"t": 0.0}

    def tick(step):
        clock["t"] += 1.0 + (10.0 if step % 10 == 0 else 0.0)

    monkeypatch.setattr(trainer_mod.time, "monotonic", lambda: clock["t"])
    over = dict(train__steps=500, train__ckpt_every=0, train__val_every=10, train__minutes=2.0,
                train__schedule="cosine")
    train, val = sets()
    res = Trainer(make_cfg(**over), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False,
                  step_hook=tick).fit()
    # timer from step 5 (4 s in); first plan at step 25 (44 s in: 2 s/step) -> 58 steps; after the
    # validation at step 30 (60 s in, validations at 10, 20, 30): 2.24 s/step over 25 steps -> 55
    first = 25 + int((120 * (1 - Trainer.PLAN_RESERVE) - 44) / 2.0)
    second = 30 + int((120 * (1 - Trainer.REPLAN_RESERVE) - 60) / ((60 - 4) / 25))
    assert (first, second) == (58, 55)
    assert res.step == second


def test_max_minutes_must_be_positive():
    with pytest.raises(CrossspecError, match="train.max_minutes: must be positive"):
        make_cfg(train__max_minutes=0)


def test_resume_rejects_other_model(tmp_path):
    train, val = sets()
    Trainer(make_cfg(), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    other = make_cfg(model__kwargs={"base": 16, "depth": 3})
    with pytest.raises(CrossspecError, match="trained with model kwargs"):
        Trainer(other, tmp_path / "run", device="cpu", resume=True, train_set=train, val_set=val,
                progress=False).fit()
    with pytest.raises(CrossspecError, match="holds a previous run"):
        Trainer(make_cfg(), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    with pytest.raises(CrossspecError, match="nothing to resume"):
        Trainer(make_cfg(), tmp_path / "fresh", device="cpu", resume=True, train_set=train, val_set=val,
                progress=False).fit()


def test_resume_rejects_incompatible_format(tmp_path):
    from safetensors.torch import load_file, save_file

    train, val = sets()
    Trainer(make_cfg(), tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    p = tmp_path / "run/checkpoints/last.safetensors"
    meta = read_metadata(p)
    save_file(load_file(str(p)), str(p), metadata={**meta, "crossspec_format": "99"})
    with pytest.raises(CrossspecError, match="format 99 is not supported"):
        Trainer(make_cfg(), tmp_path / "run", device="cpu", resume=True, train_set=train, val_set=val,
                progress=False).fit()


class NaNAfter(TinyPairs):
    """Inputs turn NaN from sample access number ``k`` on (the loss follows)."""

    def __init__(self, k, **kw):
        super().__init__(**kw)
        self.k, self.calls = k, 0

    def __getitem__(self, i):
        s = super().__getitem__(i)
        self.calls += 1
        if self.calls > self.k:
            s["input"] = torch.full_like(s["input"], float("nan"))
        return s


def test_nan_loss_stops_naming_step_and_checkpoint(tmp_path):
    # 6 probe reads by the pre-flight check (one per sample) + 3 steps x 2 samples are clean.
    train = NaNAfter(6 + 6, n=6, size=16, crop=8)
    cfg = make_cfg(train__steps=6, train__ckpt_every=2)
    with pytest.raises(TrainingError, match=r"step 4: loss became nan .*Last good checkpoint: .*last\.safetensors"):
        Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=TinyPairs(n=1, size=16),
                progress=False).fit()
    assert torch.load(tmp_path / "run/checkpoints/last.state.pt", weights_only=True)["step"] == 2


def test_preflight_rejects_small_images_and_unpaired(tmp_path):
    small = TinyPairs(n=4, size=8)
    cfg = make_cfg(data__crop=16)
    with pytest.raises(DataError, match="image is 8x8, smaller than data.crop=16"):
        Trainer(cfg, tmp_path / "a", device="cpu", train_set=small, val_set=small, progress=False).fit()
    wrong = TinyPairs(n=4, size=16, crop=8, domain="gray")
    with pytest.raises(DataError, match="domain is 'gray'"):
        Trainer(make_cfg(), tmp_path / "b", device="cpu", train_set=wrong, val_set=wrong, progress=False).fit()


def test_gan_training_runs_and_resumes_discriminators(tmp_path):
    cfg = make_cfg(train__steps=2, train__ckpt_every=1)
    cfg.gan.enabled = True
    cfg.gan.kwargs = {"base": 8, "layers": 2}
    cfg.data.crop = 32
    train, val = TinyPairs(n=4, size=32, crop=32), TinyPairs(n=1, size=32)
    res = Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    state = torch.load(res.last.with_name("last.state.pt"), weights_only=True)
    assert "discriminators" in state and "optimizer_d" in state
    lines = [json.loads(l) for l in (tmp_path / "run/log.jsonl").read_text().splitlines() if '"train"' in l]
    assert {"d_rgb", "d_hsv", "g_rgb", "g_hsv"} <= set(lines[-1])
    cfg.train.steps = 3
    res = Trainer(cfg, tmp_path / "run", device="cpu", resume=True, train_set=train, val_set=val,
                  progress=False).fit()
    assert res.step == 3


def test_fresh_run_loads_imagenet_encoder_and_resume_keeps_trained_weights(tmp_path):
    from tests.models.test_trunk_unet import vgg_state

    state = vgg_state(seed=5)
    wfile = tmp_path / "vgg16.pth"
    torch.save(state, wfile)
    cfg = make_cfg(model__name="unet-vgg16", model__kwargs={"stages": 2, "frozen_stages": 1, "widths": [4]},
                   train__steps=2)
    cfg.model.encoder_weights = str(wfile)
    train, val = sets()
    run = tmp_path / "run"
    Trainer(cfg, run, device="cpu", train_set=train, val_set=val, progress=False).fit()
    saved = weights(run / "checkpoints/last.safetensors")
    # the frozen first stage is exactly ImageNet's; the tuned second stage moved away from it
    torch.testing.assert_close(saved["model.encoder.features.0.weight"], state["features.0.weight"])
    assert not torch.equal(saved["model.encoder.features.5.weight"], state["features.5.weight"])
    # resume starts from the checkpoint, not from the file (which may be gone by then)
    wfile.unlink()
    cfg.train.steps = 3
    Trainer(cfg, run, device="cpu", resume=True, train_set=train, val_set=val, progress=False).fit()
    resumed = weights(run / "checkpoints/last.safetensors")
    torch.testing.assert_close(resumed["model.encoder.features.0.weight"], state["features.0.weight"])


def test_encoder_weights_on_a_model_without_encoder_is_a_config_error(tmp_path):
    from crossspec.errors import ConfigError

    cfg = make_cfg()
    cfg.model.encoder_weights = "auto"
    train, val = sets()
    with pytest.raises(ConfigError, match="model.encoder_weights: 'unet' has no pretrained encoder"):
        Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()


def test_bf16_cpu_falls_back_to_fp32_without_native_bf16(monkeypatch, caplog):
    from crossspec.engine import trainer as tr

    monkeypatch.setattr(tr, "cpu_has_native_bf16", lambda: False)
    with caplog.at_level("WARNING", logger="crossspec"):
        assert tr.cpu_bf16_ok() is False
    assert "no native bf16" in caplog.text
    monkeypatch.setattr(tr, "cpu_has_native_bf16", lambda: True)
    assert tr.cpu_bf16_ok() is True


def test_channels_last_trains_like_nchw_and_resumes_exactly(tmp_path):
    """train.channels_last changes the memory layout, not the maths: the weights stay within float
    rounding of an NCHW run, and a killed channels_last run resumes bit-identically."""
    over = dict(train__steps=6, train__ckpt_every=2, train__channels_last=True)
    train, val = sets()
    cl = Trainer(make_cfg(**over), tmp_path / "cl", device="cpu", train_set=train, val_set=val, progress=False).fit()
    nchw = Trainer(make_cfg(train__steps=6, train__ckpt_every=2), tmp_path / "nchw", device="cpu",
                   train_set=train, val_set=val, progress=False).fit()
    wc, wn = weights(cl.last), weights(nchw.last)
    for k in wc:
        assert torch.allclose(wc[k], wn[k], atol=1e-4, rtol=1e-3), k

    def hook(step):
        if step == 3:
            raise KeyboardInterrupt
    t = Trainer(make_cfg(**over), tmp_path / "b", device="cpu", train_set=train, val_set=val, progress=False,
                step_hook=hook)
    with pytest.raises(KeyboardInterrupt):
        t.fit()
    resumed = Trainer(make_cfg(**over), tmp_path / "b", device="cpu", resume=True, train_set=train, val_set=val,
                      progress=False).fit()
    wb = weights(resumed.last)
    for k in wc:
        assert torch.equal(wc[k], wb[k]), k
