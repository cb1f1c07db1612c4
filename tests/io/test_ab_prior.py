import numpy as np
import pytest

from crossspec.errors import CrossspecError, DataError
from crossspec.io.ab_prior import AbPrior, load_ab_prior, save_ab_prior


def make_prior(q=3):
    centres = np.array([[0, 0], [10, 0], [0, 10]][:q], np.float32)
    p = np.full(q, 1.0 / q)
    return AbPrior(centres=centres, counts=p * 30, prior=p, prior_smoothed=p, weights=np.ones(q),
                   sigma=5.0, lam=0.5, grid=10.0, source="test")


def test_round_trip_and_no_silent_overwrite(tmp_path):
    path = tmp_path / "sub" / "prior.npz"
    save_ab_prior(make_prior(), path)
    back = load_ab_prior(path)
    assert back.bins == 3 and back.source == "test" and back.sigma == 5.0 and back.lam == 0.5
    np.testing.assert_array_equal(back.centres, make_prior().centres)
    with pytest.raises(CrossspecError, match="exists already"):
        save_ab_prior(make_prior(2), path)
    save_ab_prior(make_prior(2), path, overwrite=True)
    assert load_ab_prior(path).bins == 2
    assert [f.name for f in path.parent.iterdir()] == ["prior.npz"]  # no temporary file left
    with pytest.raises(CrossspecError, match=r"\.npz"):
        save_ab_prior(make_prior(), tmp_path / "prior.bin")


def test_missing_and_malformed_files_are_named(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(DataError, match=f"^{missing}: ab-prior file not found.*crossspec data ab-prior"):
        load_ab_prior(missing)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=f"^{junk}: cannot read it"):
        load_ab_prior(junk)
    partial = tmp_path / "partial.npz"
    np.savez(partial, centres=np.zeros((3, 2)), counts=np.ones(3))
    with pytest.raises(DataError, match=f"^{partial}: not an ab-prior file: lacks prior, prior_smoothed, weights"):
        load_ab_prior(partial)
    bad = tmp_path / "bad.npz"
    fields = {k: np.asarray(v) for k, v in vars(make_prior()).items()}
    fields["weights"] = np.array([1.0, -1.0, 1.0])
    np.savez(bad, **fields)
    with pytest.raises(DataError, match=f"^{bad}: weights holds negative"):
        load_ab_prior(bad)
    fields["weights"] = np.ones(4)
    np.savez(bad, **fields)
    with pytest.raises(DataError, match=r"weights must have shape \(3,\)"):
        load_ab_prior(bad)
