import json

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
