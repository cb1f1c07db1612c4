import hashlib
import shutil

import pytest
from click.testing import CliRunner

import crossspec.data.vcip2020 as vcip
from crossspec.cli import main


@pytest.fixture
def vcip_with_manifest(fake_vcip, tmp_path, monkeypatch):
    """A writable copy of the fake VCIP layout and split lists whose sha256 manifest matches it."""
    root = shutil.copytree(fake_vcip, tmp_path / "vcip")
    splits = shutil.copytree(vcip.SPLITS_DIR, tmp_path / "splits")
    rels = [rel for k in vcip.all_keys() for rel in vcip.key_files(k)]
    (splits / "sha256.txt").write_text("".join(f"{hashlib.sha256((root / r).read_bytes()).hexdigest()}  {r}\n"
                                               for r in rels))
    monkeypatch.setattr(vcip, "SPLITS_DIR", splits)
    return root


def _verify(*args):
    return CliRunner().invoke(main, ["data", "verify", *map(str, args)])


def test_verify_checks_every_split_and_says_what(vcip_with_manifest):
    res = _verify(vcip_with_manifest, "--checksum")
    assert res.exit_code == 0, res.output
    assert "836 files present (372 train, 18 Validation, 28 Testing pairs)" in res.output
    assert "sha256 of every file matches" in res.output
    res = _verify(vcip_with_manifest)
    assert res.exit_code == 0 and "contents not checked (add --checksum)" in res.output


def test_verify_fails_without_testing(vcip_with_manifest):
    shutil.rmtree(vcip_with_manifest / "Testing")
    for args in ((), ("--checksum",)):
        res = _verify(vcip_with_manifest, *args)
        assert res.exit_code == 1 and "OK" not in res.output
        assert "56 VCIP 2020 file(s)" in res.output and "first: Testing/testing_0001_nir_reg.png" in res.output
        assert res.output.count("\n") == 1


def test_verify_checksum_names_a_truncated_ground_truth(vcip_with_manifest):
    gt = vcip_with_manifest / "Testing" / "Testing_0013_rgb_reg.png"
    gt.write_bytes(gt.read_bytes()[:40])
    res = _verify(vcip_with_manifest, "--checksum")
    assert res.exit_code == 1 and "OK" not in res.output
    assert res.output.startswith(f"Error: {gt}: sha256 ") and "does not match the manifest" in res.output
    (vcip_with_manifest / "Validation" / "validation_0002_nir.png").write_bytes(b"")
    res = _verify(vcip_with_manifest, "--checksum")
    assert res.exit_code == 1 and "validation_0002_nir.png: sha256" in res.output
    assert "1 more file(s) differ too" in res.output and res.output.count("\n") == 1


def test_verify_epfl_has_no_manifest(tmp_path):
    res = _verify(tmp_path, "--dataset", "epfl", "--checksum")
    assert res.exit_code == 2 and "no sha256 manifest" in res.output


@pytest.mark.shared_data
def test_verify_real_vcip(shared_data):
    res = _verify(shared_data / "vcip2020", "--checksum")
    assert res.exit_code == 0, res.output
    assert "836 files present" in res.output


def test_audit_cli_prints_table_and_writes_json(leak_case, tmp_path):
    out = tmp_path / "audit.json"
    args = ["data", "audit", "--train", str(leak_case / "train"), "--test", str(leak_case / "test"),
            "--json", str(out), "--candidates", "2"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "1 identical, 2 same photo, 1 same scene, 1 clean" in res.output
    assert '"same photo": 2' in out.read_text()
    res = CliRunner().invoke(main, args)  # the JSON exists now: refused before searching
    assert res.exit_code == 1 and "exists already" in res.output and res.output.count("\n") == 1


def test_audit_cli_bad_source_is_one_line(tmp_path):
    res = CliRunner().invoke(main, ["data", "audit", "--train", str(tmp_path / "nope"), "--test", str(tmp_path)])
    assert res.exit_code == 1 and "nope: image folder not found" in res.output and res.output.count("\n") == 1


@pytest.fixture
def coloured_vcip(fake_vcip, tmp_path):
    """The fake VCIP layout (grey 8x8 images) with the first 4 train-fit targets pure red."""
    import numpy as np
    from PIL import Image

    root = shutil.copytree(fake_vcip, tmp_path / "vcip")
    for key in vcip.read_list("train-fit.txt")[:4]:
        Image.fromarray(np.tile(np.array([255, 0, 0], np.uint8), (8, 8, 1))).save(root / vcip.key_files(key)[1])
    return root


def test_ab_prior_counts_the_split_targets_and_writes_once(coloured_vcip, tmp_path):
    import math

    import numpy as np

    from crossspec.io.ab_prior import load_ab_prior
    from crossspec.losses import ColorizationLoss

    out = tmp_path / "priors" / "p.npz"
    args = ["data", "ab-prior", "--data", str(coloured_vcip), "-o", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "split train-fit; 326 images, 20864 pixels; 262 bins, 2 seen" in res.output
    prior = load_ab_prior(out)
    c = {tuple(map(int, ab)): i for i, ab in enumerate(prior.centres)}
    # grey pixels fall in bin (0, 0); sRGB red is Lab (53.2, 80.1, 67.2): bin (80, 70)
    assert prior.counts[c[(0, 0)]] == 322 * 64 and prior.counts[c[(80, 70)]] == 4 * 64
    assert prior.prior[c[(80, 70)]] == pytest.approx(4 / 326)
    # smoothing: a lattice neighbour gets e^-2 of the centre bin's share (red's kernel is 8 cells away)
    s = prior.prior_smoothed
    assert s[c[(0, 10)]] / s[c[(0, 0)]] == pytest.approx(math.exp(-2), rel=1e-6)
    assert float(np.sum(s * prior.weights)) == pytest.approx(1.0)
    assert prior.weights[c[(80, 70)]] > prior.weights[c[(0, 0)]]
    # the loss takes the file
    ColorizationLoss.from_config({"weights": {"ab_ce": 1.0}, "ab_prior": str(out)})
    # never overwritten unless asked; --overwrite replaces it (here with the gray domain and another lam)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "exists already" in res.output and res.output.count("\n") == 1
    res = CliRunner().invoke(main, [*args, "--overwrite", "--domain", "gray", "--lam", "1"])
    assert res.exit_code == 0, res.output
    assert np.allclose(load_ab_prior(out).weights, 1.0)
    assert sorted(p.name for p in out.parent.iterdir()) == ["p.npz"]


def test_ab_prior_refuses_bad_output_and_split(coloured_vcip, tmp_path):
    res = CliRunner().invoke(main, ["data", "ab-prior", "--data", str(coloured_vcip), "-o", str(tmp_path / "p.txt")])
    assert res.exit_code == 2 and "must end in .npz" in res.output
    res = CliRunner().invoke(main, ["data", "ab-prior", "--data", str(coloured_vcip), "--split", "trian",
                                    "-o", str(tmp_path / "p.npz")])
    assert res.exit_code == 1 and "unknown VCIP 2020 split" in res.output
    assert not (tmp_path / "p.npz").exists()
