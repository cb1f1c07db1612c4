import io
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.engine.test_trainer import make_cfg, sets

from crossspec import figures
from crossspec.cli import main
from crossspec.engine.trainer import Trainer
from crossspec.errors import CrossspecError
from crossspec.evaluation import EvalReport, ImageScore

pytest.importorskip("matplotlib", reason="figures need matplotlib (pip install -e '.[dev]')")

TILE, GAP, LEFT, TOP = 128, 4, 30, 22  # the grid layout of comparison_figure (8x8 fake images drawn at 128)


def _report(psnrs):
    rep = EvalReport(protocol={}, splits={"s": list(psnrs)})
    rep.images = {k: ImageScore(k, k, {"psnr": v}) for k, v in psnrs.items()}
    return rep


def test_pick_images_default_and_chosen():
    rep = _report({"testing_0001": 12.0, "testing_0002": 20.0, "testing_0003": 15.0, "validation_0003": 9.0,
                   "testing_0004": 14.0})
    assert figures.pick_images(rep) == [("testing_0002", "testing_0002 (best)"),
                                        ("testing_0004", "testing_0004 (median)"),
                                        ("validation_0003", "validation_0003 (worst)")]
    assert [k for k, _ in figures.pick_images(rep, ["4", "testing_0001"])] == ["testing_0004", "testing_0001"]
    with pytest.raises(CrossspecError, match="'3' matches testing_0003 and validation_0003; give the key"):
        figures.pick_images(rep, ["3"])
    with pytest.raises(CrossspecError, match="'9' matches no scored image"):
        figures.pick_images(rep, ["9"])
    with pytest.raises(CrossspecError, match="'testing_9x' is not a scored image key"):
        figures.pick_images(rep, ["testing_9x"])


def _tile_centre(img, row, col):
    x = LEFT + col * (TILE + GAP) + TILE // 2
    y = TOP + row * (TILE + GAP) + TILE // 2
    return img[y, x]


def test_eval_figure_compares_sources(fake_vcip, tmp_path):
    preds = tmp_path / "preds"
    preds.mkdir()
    from crossspec.data.vcip2020 import all_keys

    # every fake image is constant (its index); a prediction folder of constant 200 scores worst
    # where the truth is darkest
    for key in all_keys():
        if key.startswith("testing"):
            Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(preds / f"{key}.png")
    fig = tmp_path / "grid.png"
    res = CliRunner().invoke(main, ["eval", "--pred", str(preds), "--model", "nir-gray", "--data", str(fake_vcip),
                                    "--split", "test-clean-20", "--no-lpips", "--figure", str(fig)])
    assert res.exit_code == 0, res.output
    assert f"== {preds} ==" in res.output and "== nir-gray ==" in res.output
    img = np.asarray(Image.open(fig).convert("RGB"))
    assert img.shape == (TOP + 3 * (TILE + GAP), LEFT + 4 * (TILE + GAP), 3)
    assert fig.stat().st_size < 1_000_000
    # rows: best, median, worst for the first source (the folder); columns: input | folder | nir-gray | truth
    truth = [int(_tile_centre(img, r, 3)[0]) for r in range(3)]
    assert truth == sorted(truth, reverse=True)  # the brightest truth is nearest to 200: best first
    for r in range(3):
        assert abs(int(_tile_centre(img, r, 1)[0]) - 200) <= 2  # the folder's prediction
        assert abs(int(_tile_centre(img, r, 2)[0]) - int(_tile_centre(img, r, 0)[0])) <= 2  # nir-gray = input
    # chosen images, one row each; never overwrite without --overwrite
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--split", "test-28",
                                    "--no-lpips", "--figure", str(fig), "--figure-images", "5,testing_0007",
                                    "--figure-images", "9", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert np.asarray(Image.open(fig)).shape[0] == TOP + 3 * (TILE + GAP)
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--no-lpips",
                                    "--figure", str(fig)])
    assert res.exit_code == 1 and "exists already" in res.output


def test_eval_several_sources_take_no_single_source_outputs(fake_vcip, tmp_path):
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--model", "nir-gain", "--data", str(fake_vcip),
                                    "--no-lpips", "--json", str(tmp_path / "s.json")])
    assert res.exit_code == 2 and "take exactly one of" in res.output


def test_figures_without_matplotlib_say_how_to_install(fake_vcip, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--no-lpips",
                                    "--figure", str(tmp_path / "f.png")])
    assert res.exit_code == 1 and "pip install 'crossspec[plot]'" in res.output
    assert "test-28" not in res.output  # refused before scoring
    res = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert res.exit_code == 1


def test_large_grids_are_stored_within_budget():
    rng = np.random.default_rng(0)
    smooth = np.linspace(0, 255, 600)[None, :, None] * np.ones((500, 1, 3))
    noisy = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(noisy)
    full = figures._encode(image, None)

    def decoded(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)

    assert np.array_equal(decoded(full), noisy)  # within budget: lossless
    fewer_bits = figures._encode(image, int(len(full) * 0.8))
    assert len(fewer_bits) <= len(full) * 0.8
    assert np.abs(decoded(fewer_bits) - noisy).max() <= 4  # rounded to at least 5 bits per channel
    palette = figures._encode(image, len(full) // 4)  # the last resort: 256 colours
    assert len(palette) < len(full) // 2 and np.abs(decoded(palette) - noisy).mean() < 8


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    train, val = sets()
    for seed in (1, 2):
        cfg = make_cfg(train__steps=6, train__val_every=3, train__seed=seed)
        Trainer(cfg, root / f"seed{seed}", device="cpu", train_set=train, val_set=val, progress=False).fit()
    return root / "seed1", root / "seed2"


def test_plot_overlays_runs(two_runs, tmp_path):
    out = tmp_path / "curves.png"
    res = CliRunner().invoke(main, ["plot", *map(str, two_runs), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert Image.open(out).size[0] > 800
    logs = {d.name: figures.read_log(d) for d in two_runs}
    panels = [(kind, key) for kind, key, _ in figures.curve_panels(logs)]
    assert panels[:2] == [("train", "loss"), ("train", "l1")]
    assert {("train", "lr"), ("train", "grad_norm"), ("val", "psnr"), ("val", "ssim"), ("val", "ae")} <= set(panels)
    assert ("val", "baseline_psnr") not in panels  # drawn dotted inside the PSNR panel
    # one run: next to its log by default; several need -o; nothing is overwritten unasked
    res = CliRunner().invoke(main, ["plot", str(two_runs[0])])
    assert res.exit_code == 0 and (two_runs[0] / "curves.png").is_file()
    res = CliRunner().invoke(main, ["plot", str(two_runs[0])])
    assert res.exit_code == 1 and "exists already" in res.output
    res = CliRunner().invoke(main, ["plot", *map(str, two_runs)])
    assert res.exit_code == 2 and "-o FILE.png" in res.output


def test_read_log_keeps_the_resumed_records(tmp_path):
    lines = [{"kind": "train", "step": 1, "loss": 3.0}, {"kind": "train", "step": 2, "loss": 2.0},
             {"kind": "val", "step": 2, "psnr": 10.0},
             {"kind": "train", "step": 2, "loss": 1.5}, {"kind": "train", "step": 3, "loss": 1.0}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    log = figures.read_log(tmp_path)
    assert [(r["step"], r["loss"]) for r in log["train"]] == [(1, 3.0), (2, 1.5), (3, 1.0)]
    assert [r["psnr"] for r in log["val"]] == [10.0]
    res = CliRunner().invoke(main, ["plot", str(tmp_path / "missing")])
    assert res.exit_code == 1 and "no training log" in res.output
