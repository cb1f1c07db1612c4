from click.testing import CliRunner

from tests.models.test_pretrained import ship

from crossspec.cli import main
from crossspec.io import shipped_weights as P


def test_models_marks_pretrained_and_shows_their_scores(weights_dir):
    plain = CliRunner().invoke(main, ["models"])
    assert plain.exit_code == 0 and "PSNR" not in plain.output
    assert not any(line.split()[0].endswith("*") for line in plain.output.splitlines())
    ship(weights_dir)
    res = CliRunner().invoke(main, ["models"])
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if line.startswith("unet-test"))
    assert row.split()[:6] == ["unet-test*", "nir", "17.50", "0.610", "0.350", "a"]
    unet = next(line for line in res.output.splitlines() if line.startswith("unet "))
    assert "*" not in unet and unet.split()[1:5] == ["nir/gray", "-", "-", "-"]
    assert "test-clean-20" in res.output.splitlines()[-1]


def test_models_name_prints_the_card(weights_dir):
    ship(weights_dir)
    res = CliRunner().invoke(main, ["models", "unet-test"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("# unet-test\n\nA test card.")
    assert P.sha256_file(weights_dir / "unet-test.safetensors") in res.output
    arch = CliRunner().invoke(main, ["models", "unet", "--params"])
    assert arch.exit_code == 0 and "pretrained weights: unet-test" in arch.output and "parameters:" in arch.output
    (weights_dir / "unet-test.md").unlink()
    res = CliRunner().invoke(main, ["models", "unet-test"])
    assert res.exit_code == 1 and "unet-test.md: model card of 'unet-test' is missing" in res.output


def test_models_unknown_name():
    res = CliRunner().invoke(main, ["models", "unte"])
    assert res.exit_code == 1 and "did you mean 'unet'" in res.output
