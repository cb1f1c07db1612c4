import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from tests.engine.test_trainer import make_cfg, sets

from crossspec.cli import main
from crossspec.engine.export import CARD_START, export_pretrained
from crossspec.engine.trainer import Trainer
from crossspec.errors import CrossspecError
from crossspec.models import create_model
from crossspec.io import shipped_weights as P


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 4-step U-Net run with EMA, like the test_trainer runs."""
    run = tmp_path_factory.mktemp("runs") / "unet-tiny"
    train, val = sets()
    Trainer(make_cfg(), run, device="cpu", train_set=train, val_set=val, progress=False).fit()
    return run


@pytest.fixture
def card(tmp_path):
    path = tmp_path / "card.md"
    path.write_text("# unet-vcip\n\nA tiny U-Net for tests. Trained on TinyPairs.\n")
    return path


def test_export_ships_ema_weights_card_and_manifest(tiny_run, card, weights_dir, fake_vcip):
    from safetensors.torch import load_file

    spec = export_pretrained(tiny_run, "unet-vcip", card=card, data=str(fake_vcip), use_lpips=False,
                             description="tiny U-Net", default=True)
    assert sorted(p.name for p in weights_dir.iterdir()) == ["unet-vcip.json", "unet-vcip.md", "unet-vcip.safetensors"]
    assert all(p.stat().st_mode & 0o444 == 0o444 for p in weights_dir.iterdir())  # package files: readable by all
    manifest = json.loads((weights_dir / "unet-vcip.json").read_text())
    assert manifest["architecture"] == "unet" and manifest["kwargs"] == {"base": 8, "depth": 3}
    assert manifest["domain"] == "nir" and manifest["dtype"] == "float32" and manifest["default"] is True
    assert manifest["sha256"] == P.sha256_file(weights_dir / "unet-vcip.safetensors")
    # provenance: the run's sessions and the checkpoint it came from
    prov = manifest["provenance"]
    assert prov["run"] == json.loads((tiny_run / "run.json").read_text())
    assert prov["checkpoint"]["file"] == "checkpoints/best.safetensors" and prov["checkpoint"]["ema"] is True
    assert prov["config"]["model"]["name"] == "unet" and prov["export"]["crossspec_version"]
    # the shipped weights are the run's EMA weights, loaded by name
    ema = {k[4:]: v for k, v in load_file(str(tiny_run / "checkpoints/best.safetensors")).items() if k.startswith("ema.")}
    model = create_model("unet-vcip")
    for k, v in model.state_dict().items():
        assert torch.equal(v, ema[k]), k
    # the card keeps the author's text and shows the scores the manifest holds
    text = spec.card_text()
    assert text.startswith("# unet-vcip\n\nA tiny U-Net") and "| test-clean-20 | 20 |" in text
    clean = spec.split_metrics("test-clean-20")
    assert clean["n"] == 20 and f"{clean['psnr']:.2f}" in text and spec.split_metrics("test-28")["n"] == 28
    # `crossspec eval --model NAME` runs the shipped weights and reproduces the recorded score
    out = weights_dir.parent / "scores.json"
    res = CliRunner().invoke(main, ["eval", "--model", "unet-vcip", "--data", str(fake_vcip), "--split", "test-clean-20",
                                    "--no-lpips", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["splits"]["test-clean-20"]["psnr"] == pytest.approx(clean["psnr"], abs=1e-9)


def test_export_refuses_to_overwrite_and_replaces_its_section(tiny_run, card, weights_dir):
    export_pretrained(tiny_run, "unet-vcip", card=card)
    with pytest.raises(CrossspecError, match="unet-vcip.safetensors: exists already.*--overwrite"):
        export_pretrained(tiny_run, "unet-vcip", card=card)
    # re-exporting from the shipped card replaces the generated section instead of adding a second one
    shipped = weights_dir / "unet-vcip.md"
    again = weights_dir.parent / "again.md"
    again.write_text(shipped.read_text())
    export_pretrained(tiny_run, "unet-vcip", card=again, checkpoint="last", overwrite=True)
    text = shipped.read_text()
    assert text.count(CARD_START) == 1 and "checkpoints/last.safetensors" in text
    assert "Not measured" in text
    assert P.discover()["unet-vcip"].metrics == {}


def test_export_float16_halves_the_file(tiny_run, card, tmp_path):
    a = export_pretrained(tiny_run, "unet-a", card=card, out_dir=tmp_path / "a")
    b = export_pretrained(tiny_run, "unet-b", card=card, out_dir=tmp_path / "b", dtype="float16")
    size_a, size_b = a.weights.stat().st_size, b.weights.stat().st_size
    assert size_b < 0.6 * size_a
    half = P.load_state(b)
    full = P.load_state(a)
    assert all(half[k].dtype == torch.float16 for k in half if full[k].is_floating_point())
    assert all(torch.allclose(half[k].float(), full[k].float(), rtol=1e-3, atol=1e-4) for k in full)


def test_export_errors(tiny_run, card, tmp_path):
    with pytest.raises(CrossspecError, match="'unet' is a registered architecture"):
        export_pretrained(tiny_run, "unet", card=card, out_dir=tmp_path)
    with pytest.raises(CrossspecError, match="card.md: model card missing"):
        export_pretrained(tiny_run, "x", card=tmp_path / "nope" / "card.md", out_dir=tmp_path)
    with pytest.raises(CrossspecError, match="run directory without checkpoints"):
        export_pretrained(tmp_path, "x", card=card, out_dir=tmp_path / "w")
    with pytest.raises(CrossspecError, match="step_9.safetensors: checkpoint not found"):
        export_pretrained(tiny_run, "x", card=card, out_dir=tmp_path / "w", checkpoint="step_9")
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())


def test_export_tool(tiny_run, card, tmp_path, capsys):
    import export_pretrained as tool

    assert tool.main([str(tiny_run), "unet-t", "--card", str(card), "--out", str(tmp_path / "w"),
                      "--dtype", "float16"]) == 0
    assert "unet-t (unet, nir)" in capsys.readouterr().out
    assert tool.main([str(tiny_run), "unet-t", "--card", str(card), "--out", str(tmp_path / "w")]) == 1
    assert "exists already" in capsys.readouterr().err


def test_shared_tensors_are_stored_once_and_load_exactly(tiny_run, card, weights_dir, tmp_path):
    export_pretrained(tiny_run, "unet-a", card=card, out_dir=weights_dir)
    b = export_pretrained(tiny_run, "unet-b", card=card, out_dir=weights_dir, share=("unet-a", "downs."))
    assert b.shared["from"] == "unet-a" and b.shared["keys"] and all(k.startswith("downs.") for k in b.shared["keys"])
    assert b.weights.stat().st_size < (weights_dir / "unet-a.safetensors").stat().st_size
    a_state, b_state = P.load_state(P.discover(weights_dir)["unet-a"]), P.load_state(b)
    assert a_state.keys() == b_state.keys() and all(torch.equal(a_state[k], b_state[k]) for k in a_state)
    # a re-exported source is refused: same names, maybe other values
    manifest = json.loads((weights_dir / "unet-b.json").read_text())
    manifest["shared"]["sha256"] = "0" * 64
    (weights_dir / "unet-b.json").write_text(json.dumps(manifest))
    with pytest.raises(CrossspecError, match="was exported against 'unet-a' with weights sha256 0000"):
        P.load_state(P.discover(weights_dir)["unet-b"])
    manifest["shared"]["sha256"] = P.discover(weights_dir)["unet-a"].sha256
    (weights_dir / "unet-b.json").write_text(json.dumps(manifest))
    # the source must be there: a lone shared model is a clear error, not a half-loaded network
    (weights_dir / "unet-a.json").rename(tmp_path / "unet-a.json")
    with pytest.raises(CrossspecError, match=f"shared: takes {len(b.shared['keys'])} tensors from 'unet-a'"):
        P.load_state(P.discover(weights_dir)["unet-b"])


def test_sharing_refuses_tensors_that_differ(tiny_run, card, weights_dir, tmp_path):
    other = tmp_path / "other"
    train, val = sets()
    cfg = make_cfg(train__seed=11)
    Trainer(cfg, other, device="cpu", train_set=train, val_set=val, progress=False).fit()
    export_pretrained(tiny_run, "unet-a", card=card, out_dir=weights_dir)
    with pytest.raises(CrossspecError, match="no downs.\\* tensor of the exported model is identical to 'unet-a'"):
        export_pretrained(other, "unet-c", card=card, out_dir=weights_dir, share=("unet-a", "downs."))
    assert not (weights_dir / "unet-c.json").exists()


def test_sharing_keeps_the_tensors_that_differ(tiny_run, card, weights_dir, tmp_path):
    """A partly fine-tuned encoder: only the tensors equal to the source's are stored once."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tuned = tmp_path / "tuned"
    shutil.copytree(tiny_run, tuned)
    ckpt = tuned / "checkpoints" / "best.safetensors"
    tensors = load_file(str(ckpt))
    with safe_open(str(ckpt), "pt") as f:
        meta = f.metadata()
    changed = sorted(k for k in tensors if k.startswith("ema.downs."))[0][len("ema."):]
    for side in ("ema.", "model."):
        tensors[side + changed] = tensors[side + changed] + 0.5
    save_file(tensors, str(ckpt), metadata=meta)
    export_pretrained(tiny_run, "unet-a", card=card, out_dir=weights_dir)
    c = export_pretrained(tuned, "unet-c", card=card, out_dir=weights_dir, share=("unet-a", "downs."))
    assert changed not in c.shared["keys"] and len(c.shared["keys"]) == sum(
        k.startswith("ema.downs.") for k in tensors) - 1
    a_state, c_state = P.load_state(P.discover(weights_dir)["unet-a"]), P.load_state(c)
    assert a_state.keys() == c_state.keys()
    assert [k for k in a_state if not torch.equal(a_state[k], c_state[k])] == [changed]


def test_set_kwargs_changes_weightless_options_only(tiny_run, card, weights_dir):
    spec = export_pretrained(tiny_run, "unet-d", card=card, out_dir=weights_dir, set_kwargs={"dropout": 0.1})
    assert spec.kwargs["dropout"] == 0.1 and create_model("unet-d").downs is not None
    with pytest.raises(CrossspecError, match="do not fit"):
        export_pretrained(tiny_run, "unet-e", card=card, out_dir=weights_dir, set_kwargs={"base": 16})


def test_export_scores_overhead_models_on_held_out_rasters(tiny_run, card, weights_dir, tmp_path, capsys):
    import export_pretrained as tool

    from tests.data.rs_fixtures import write_manifest

    from crossspec.models import load_model
    from crossspec.raster_eval import evaluate_rasters, load_scenes

    manifest_path = write_manifest(tmp_path / "scenes")
    spec = export_pretrained(tiny_run, "unet-rs", card=card, rasters=str(manifest_path), imagery="overhead",
                             default=True)
    assert spec.imagery == "overhead" and spec.default
    metrics = spec.metrics
    assert list(metrics["splits"]) == ["rgbn", "mean (test, 1 rasters)"]  # the held-out scene only
    assert metrics["reference"]["model"] == "nir-gain" and len(metrics["reference"]["gain"]) == 3
    # the recorded score is that of the shipped file, as `crossspec eval --rasters` measures it
    again = evaluate_rasters(load_scenes(manifest_path, None, "test"), load_model("unet-rs")).summary()
    assert again["rgbn"]["psnr"] == pytest.approx(metrics["splits"]["rgbn"]["psnr"], abs=1e-6)
    margin = metrics["splits"]["rgbn"]["psnr"] - metrics["reference"]["splits"]["rgbn"]["psnr"]
    text = spec.card_text()
    assert "| raster | rasters | PSNR (dB) |" in text and f"| {margin:+.2f} |" in text
    with pytest.raises(CrossspecError, match="imagery 'sar'"):
        export_pretrained(tiny_run, "unet-rs2", card=card, imagery="sar")
    assert tool.main([str(tiny_run), "unet-rs3", "--card", str(card), "--out", str(tmp_path / "w"),
                      "--rasters", str(manifest_path), "--imagery", "overhead"]) == 0
    assert "mean (test, 1 rasters) PSNR" in capsys.readouterr().out
