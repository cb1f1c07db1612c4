import json

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from crossspec.data.vcip2020 import key_files, read_list
from crossspec.errors import CrossspecError, DataError
from crossspec.evaluation import check_output_file, match_predictions, run_eval


def _write_preds(folder, keys, root, seed=0, name="Testing_{num}.png"):
    """Ground truth plus noise, saved as 8-bit RGB PNGs named like the peers' releases."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for key in keys:
        gt = np.asarray(Image.open(root / key_files(key)[1]))
        pred = np.clip(gt.astype(int) + rng.integers(-40, 41, gt.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pred).save(folder / name.format(num=key.split("_")[1]))
    return folder


def _touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")


def test_match_by_number_and_source(tmp_path):
    _touch(tmp_path, "Testing_0005.png", "validation_0005_fake.png", "notes.txt")
    found = match_predictions(tmp_path, ["testing_0005", "validation_0005"])
    assert found == {"testing_0005": tmp_path / "Testing_0005.png", "validation_0005": tmp_path / "validation_0005_fake.png"}


def test_match_errors_name_the_file(tmp_path):
    _touch(tmp_path / "a", "Testing_0001.png")
    with pytest.raises(DataError, match="missing predictions for testing_0002"):
        match_predictions(tmp_path / "a", ["testing_0001", "testing_0002"])
    _touch(tmp_path / "b", "Testing_0001.png", "Testing_0099.png")
    with pytest.raises(DataError, match=r"Testing_0099.png: extra prediction"):
        match_predictions(tmp_path / "b", ["testing_0001"])
    _touch(tmp_path / "c", "0005.png", "validation_0005.png")
    # truly ambiguous: the scored splits hold two pairs numbered 5 (holdout-23 does)
    with pytest.raises(DataError, match=r"0005.png: ambiguous prediction: it could be testing_0005 or validation_0005"):
        match_predictions(tmp_path / "c", ["testing_0005", "validation_0005"])
    _touch(tmp_path / "d", "Testing_0001.png", "testing_0001.jpg")
    with pytest.raises(DataError, match="second prediction for testing_0001"):
        match_predictions(tmp_path / "d", ["testing_0001"])


def test_bare_numbers_match_the_scored_testing_pairs(tmp_path):
    # the docstring's "0005.png": with the whole Testing/Validation pool, a bare number is the scored pair
    pool = read_list("test-28.txt") + read_list("holdout-23.txt")
    names = [f"{i:04d}.png" for i in range(1, 29)]
    _touch(tmp_path / "a", *names)
    found = match_predictions(tmp_path / "a", read_list("test-28.txt"), pool=pool)
    assert found == {f"testing_{i:04d}": tmp_path / "a" / f"{i:04d}.png" for i in range(1, 29)}
    # files for pool pairs that are not scored (Testing 3 is not in test-clean-20) are left alone
    clean = read_list("test-clean-20.txt")
    assert sorted(match_predictions(tmp_path / "a", clean, pool=pool)) == sorted(clean)
    # a word that names no source, and a bare number beside its named twin
    _touch(tmp_path / "b", "fake_0001.png", "validation_0001.png")
    assert match_predictions(tmp_path / "b", ["testing_0001"], pool=pool) == {"testing_0001": tmp_path / "b" / "fake_0001.png"}
    _touch(tmp_path / "c", "0001.png", "Testing_0001.png")
    with pytest.raises(DataError, match=r"Testing_0001.png: second prediction for testing_0001 \(first: 0001.png\)"):
        match_predictions(tmp_path / "c", ["testing_0001"], pool=pool)


def test_folder_scores_match_independent_computation(fake_vcip, tmp_path):
    keys = read_list("test-28.txt")
    preds = _write_preds(tmp_path / "pred", keys, fake_vcip)
    report = run_eval(pred_dir=str(preds), root=str(fake_vcip), splits=["test-28", "test-clean-20"], use_lpips=False)
    ps, ss = {}, {}
    for key in keys:
        gt = np.asarray(Image.open(fake_vcip / key_files(key)[1])).astype(np.float64) / 255
        pr = np.asarray(Image.open(preds / f"Testing_{key.split('_')[1]}.png")).astype(np.float64) / 255
        ps[key] = 10 * np.log10(1 / np.mean((gt - pr) ** 2))
        ss[key] = structural_similarity(gt, pr, data_range=1, channel_axis=-1)
    summary = report.summary()
    clean = read_list("test-clean-20.txt")
    assert summary["test-28"]["n"] == 28 and summary["test-clean-20"]["n"] == 20
    assert summary["test-28"]["psnr"] == pytest.approx(np.mean(list(ps.values())), abs=1e-5)
    assert summary["test-clean-20"]["psnr"] == pytest.approx(np.mean([ps[k] for k in clean]), abs=1e-5)
    assert summary["test-clean-20"]["ssim"] == pytest.approx(np.mean([ss[k] for k in clean]), abs=1e-6)
    for key in keys:
        assert report.images[key].values["ssim"] == pytest.approx(ss[key], abs=1e-6)
    assert "lpips" not in summary["test-28"]
    assert "skimage" in report.protocol["description"]


def test_prediction_of_wrong_size_or_channels(fake_vcip, tmp_path):
    keys = read_list("test-28.txt")
    preds = _write_preds(tmp_path / "pred", keys, fake_vcip)
    Image.fromarray(np.zeros((9, 8, 3), np.uint8)).save(preds / "Testing_0004.png")
    with pytest.raises(DataError, match=r"Testing_0004.png: prediction is 8x9 but the ground truth is 8x8"):
        run_eval(pred_dir=str(preds), root=str(fake_vcip), splits=["test-28"], use_lpips=False)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(preds / "Testing_0004.png")
    with pytest.raises(DataError, match=r"Testing_0004.png: prediction must have 3 channels"):
        run_eval(pred_dir=str(preds), root=str(fake_vcip), splits=["test-28"], use_lpips=False)
    (preds / "Testing_0004.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DataError, match="Testing_0004.png"):
        run_eval(pred_dir=str(preds), root=str(fake_vcip), splits=["test-28"], use_lpips=False)


def test_model_eval_fits_gain_and_saves_predictions(fake_vcip, tmp_path):
    report = run_eval(model="nir-gain", root=str(fake_vcip), splits=["test-clean-20"], use_lpips=False,
                      save_pred=str(tmp_path / "out"))
    saved = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert saved == sorted(f"{k}.png" for k in read_list("test-clean-20.txt"))
    # the saved 8-bit predictions score exactly as the in-memory run did
    again = run_eval(pred_dir=str(tmp_path / "out"), root=str(fake_vcip), splits=["test-clean-20"], use_lpips=False)
    assert again.summary()["test-clean-20"]["psnr"] == pytest.approx(report.summary()["test-clean-20"]["psnr"], abs=1e-9)


def test_save_pred_refuses_used_folder_before_scoring(fake_vcip, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    import crossspec.evaluation as ev

    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("scored before checking --save-pred"))
    with pytest.raises(DataError, match=rf"^{out}: holds 1 file\(s\) already \(first: notes.txt\)"):
        run_eval(model="nir-gray", root=str(fake_vcip), splits=["test-28"], use_lpips=False, save_pred=str(out))
    # with overwrite, an image that would become a second prediction is still refused; others are left alone
    (out / "validation_0005.png").write_bytes(b"x")
    (out / "fake_0005.png").write_bytes(b"x")
    with pytest.raises(DataError, match=r"fake_0005.png: would be a second prediction for testing_0005"):
        run_eval(model="nir-gray", root=str(fake_vcip), splits=["test-28"], use_lpips=False, save_pred=str(out),
                 overwrite=True)
    with pytest.raises(CrossspecError, match="--save-pred applies to a model"):
        run_eval(pred_dir=str(out), root=str(fake_vcip), splits=["test-28"], use_lpips=False, save_pred=str(out))


def test_report_write_errors_name_the_target(fake_vcip, tmp_path):
    report = run_eval(model="nir-gray", root=str(fake_vcip), splits=["test-clean-20"], use_lpips=False)
    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "s.json"
    with pytest.raises(DataError, match=rf"^{target}: cannot write"):
        report.write_json(target)
    with pytest.raises(DataError, match=rf"^{target}: cannot write here \({tmp_path / 'file'} is a file"):
        check_output_file(target)
    report.write_json(tmp_path / "ok.json")
    with pytest.raises(DataError, match=r"ok.json: exists already"):
        check_output_file(tmp_path / "ok.json")
    assert check_output_file(tmp_path / "ok.json", overwrite=True) == tmp_path / "ok.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "ok.json"]  # no probe left behind


def test_missing_root_and_unknown_split(fake_vcip, tmp_path):
    with pytest.raises(DataError, match="VCIP 2020 root folder not found"):
        run_eval(model="nir-gray", root=str(tmp_path / "nope"), splits=["test-28"], use_lpips=False)
    with pytest.raises(DataError, match="split 'test-29': unknown"):
        run_eval(model="nir-gray", root=str(fake_vcip), splits=["test-29"], use_lpips=False)


def test_explicit_lpips_weights_missing_is_an_error(fake_vcip, tmp_path):
    with pytest.raises(CrossspecError, match="nothing.pth"):
        run_eval(model="nir-gray", root=str(fake_vcip), splits=["test-28"], lpips_weights=str(tmp_path / "nothing.pth"))


def test_report_files(fake_vcip, tmp_path):
    report = run_eval(model="nir-gray", root=str(fake_vcip), splits=["test-28", "test-clean-20"], use_lpips=False)
    report.write_json(tmp_path / "s.json")
    report.write_csv(tmp_path / "s.csv")
    data = json.loads((tmp_path / "s.json").read_text())
    assert set(data) == {"protocol", "splits"} and data["splits"]["test-28"]["n"] == 28
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0].startswith("key,name,splits,psnr") and len(rows) == 29
    assert "test-28 test-clean-20" in rows[1] or "test-28" in rows[1]


@pytest.mark.shared_data
@pytest.mark.parametrize("peer", ["mcfnet", "sfgpt-dct", "sfgpt-dwt"])
def test_peer_outputs_ssim_equals_skimage_on_every_image(shared_data, peer):
    root = shared_data / "vcip2020"
    folder = shared_data / "peers" / "vcip2020-testing" / peer
    report = run_eval(pred_dir=str(folder), root=str(root), splits=["test-28"], use_lpips=False)
    for key, score in report.images.items():
        num = key.split("_")[1]
        gt = np.asarray(Image.open(root / "Testing" / f"Testing_{num}_rgb_reg.png")).astype(np.float64) / 255
        pr = np.asarray(Image.open(folder / f"Testing_{num}.png")).astype(np.float64) / 255
        assert score.values["ssim"] == pytest.approx(structural_similarity(gt, pr, data_range=1, channel_axis=-1), abs=1e-6)
    if peer == "sfgpt-dwt":  # the BENCHMARKS.md row
        assert report.summary()["test-28"]["psnr"] == pytest.approx(25.829, abs=1e-3)
