import json
import os

import pytest
from click.testing import CliRunner

from crossspec.cli import main


def test_eval_model_on_fake_vcip(fake_vcip, tmp_path):
    out = tmp_path / "scores.json"
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--split", "test-28",
                                    "--split", "test-clean-20", "--no-lpips", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "test-clean-20" in res.output and "protocol: PSNR" in res.output
    assert json.loads(out.read_text())["splits"]["test-clean-20"]["n"] == 20
    # never overwrite without --overwrite
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--no-lpips", "--json", str(out)])
    assert res.exit_code == 1 and "exists already" in res.output


def test_eval_user_errors_are_one_line(fake_vcip, tmp_path):
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gray", "--data", str(fake_vcip), "--split", "test-99", "--no-lpips"])
    assert res.exit_code == 1
    assert res.output.strip().count("\n") == 0 and "Traceback" not in res.output
    assert "split 'test-99'" in res.output
    res = CliRunner().invoke(main, ["-v", "eval", "--model", "nir-gray", "--data", str(tmp_path / "missing"), "--no-lpips"])
    assert res.exit_code == 1 and "Traceback" in res.output and "not found" in res.output


def test_eval_needs_exactly_one_source(fake_vcip):
    res = CliRunner().invoke(main, ["eval", "--data", str(fake_vcip)])
    assert res.exit_code == 2 and "exactly one of" in res.output


def test_eval_demo_needs_no_data():
    res = CliRunner().invoke(main, ["eval", "--model", "nir-gain", "--dataset", "demo", "--no-lpips"])
    assert res.exit_code == 0, res.output
    assert "test" in res.output


def test_models_lists_baselines():
    res = CliRunner().invoke(main, ["models"])
    assert res.exit_code == 0 and "nir-gain" in res.output and "colormamba" in res.output


def _eval(*args):
    return CliRunner().invoke(main, ["eval", *map(str, args)])


def test_save_pred_refuses_a_folder_that_holds_predictions(fake_vcip, tmp_path):
    out = tmp_path / "preds"
    out.mkdir()
    (out / "Testing_0005.png").write_bytes(b"a peer's prediction")
    base = ["--model", "nir-gray", "--data", fake_vcip, "--split", "test-28", "--no-lpips", "--save-pred", out]
    res = _eval(*base)
    assert res.exit_code == 1 and "Traceback" not in res.output and "PSNR" not in res.output  # refused before scoring
    assert f"{out}: holds 1 file(s) already (first: Testing_0005.png)" in res.output and "--overwrite" in res.output
    # --overwrite replaces crossspec's own predictions, but never leaves two for one image
    res = _eval(*base, "--overwrite")
    assert res.exit_code == 1 and "PSNR" not in res.output
    assert f"{out / 'Testing_0005.png'}: would be a second prediction for testing_0005" in res.output
    assert sorted(p.name for p in out.iterdir()) == ["Testing_0005.png"]
    assert (out / "Testing_0005.png").read_bytes() == b"a peer's prediction"
    (out / "Testing_0005.png").unlink()
    assert _eval(*base).exit_code == 0  # empty folder
    assert _eval(*base).exit_code == 1  # same folder again: refused
    res = _eval(*base, "--overwrite")
    assert res.exit_code == 0, res.output
    # what was saved still scores
    res = _eval("--pred", out, "--data", fake_vcip, "--split", "test-28", "--no-lpips")
    assert res.exit_code == 0, res.output


def test_report_targets_checked_before_scoring(fake_vcip, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    base = ["--model", "nir-gray", "--data", fake_vcip, "--split", "test-28", "--no-lpips"]
    for opt in ("--json", "--per-image"):
        target = blocker / "scores.out"
        res = _eval(*base, opt, target)
        assert res.exit_code == 1 and "PSNR" not in res.output and "Traceback" not in res.output
        assert res.output.startswith(f"Error: {target}: cannot write here (") and res.output.count("\n") == 1
    res = _eval(*base, "--save-pred", blocker / "preds")
    assert res.exit_code == 1 and res.output.startswith(f"Error: {blocker / 'preds'}: cannot write here (")
    res = _eval(*base, "--json", tmp_path)
    assert res.exit_code == 2 and "is a directory" in res.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_json_into_read_only_folder_fails_before_scoring(fake_vcip, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    res = _eval("--model", "nir-gray", "--data", fake_vcip, "--split", "test-28", "--no-lpips", "--json", ro / "s.json")
    assert res.exit_code == 1 and "PSNR" not in res.output
    assert res.output.startswith(f"Error: {ro / 's.json'}: cannot write here (Permission denied)")
    assert list(ro.iterdir()) == []


def test_conflicting_flags_are_usage_errors(fake_vcip, tmp_path):
    (tmp_path / "preds").mkdir()
    for args, message in [
        ([], "give a source"),
        (["--pred", tmp_path / "preds", "--model", "nir-gray", "--json", tmp_path / "s"], "take exactly one of"),
        (["--pred", tmp_path / "preds", "--save-pred", tmp_path / "out"], "--save-pred and --tta apply to"),
        (["--pred", tmp_path / "preds", "--tta", "hflip"], "--save-pred and --tta apply to"),
        (["--model", "nir-gray", "--json", tmp_path / "s", "--per-image", tmp_path / "s"], "same file"),
        (["--model", "nir-gray", "--ssim-variant", "gauss"], "'gauss' is not one of 'skimage', 'gaussian', 'ms-ssim'"),
    ]:
        res = _eval(*args, "--data", fake_vcip, "--no-lpips")
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output, (args, res.output)
    assert not (tmp_path / "out").exists() and not (tmp_path / "s").exists()


def test_help_lists_ssim_variants():
    res = CliRunner().invoke(main, ["eval", "--help"])
    assert res.exit_code == 0 and "[skimage|gaussian|ms-ssim]" in res.output
