import json
import math

import pytest

from crossspec.audit import Params, parse_source, run_audit
from crossspec.audit.report import format_table, write_json
from crossspec.errors import ConfigError


@pytest.fixture(scope="module")
def audit(leak_case):
    return run_audit(parse_source(str(leak_case / "train")), parse_source(str(leak_case / "test")), Params())


def _by_test(audit):
    return {r.test: r for r in audit.results}


def test_exact_copy_is_identical_by_bytes(audit):
    r = _by_test(audit)["copy"]
    assert r.verdict == "identical" and r.identical_to == ["a"]
    assert r.best is None  # not searched: the bytes settle it


def test_half_scale_crop_found_with_zoom_and_offset(audit):
    r = _by_test(audit)["half"]
    assert r.verdict == "same photo"
    m = r.best
    assert m.train == "a"
    assert m.zoom == pytest.approx(0.5, rel=0.02)
    assert m.offset_y == pytest.approx(40, abs=1.5) and m.offset_x == pytest.approx(60, abs=1.5)
    assert m.overlap == pytest.approx(1.0, abs=0.02)
    assert m.psnr_db > 35 and m.ncc > 0.98
    assert m.nir_psnr_db is not None and m.nir_psnr_db > 35  # both sides have NIR partners
    # the other photograph is far below the threshold
    assert r.runner_up is not None and r.runner_up.train == "b" and r.runner_up.psnr_db < 20


def test_partial_overlap_at_same_scale(audit):
    r = _by_test(audit)["edge"]
    assert r.verdict == "same photo" and r.best.train == "a"
    assert r.best.zoom == pytest.approx(1.0, rel=0.01)
    assert r.best.offset_y == pytest.approx(150, abs=1) and r.best.offset_x == pytest.approx(180, abs=1)
    assert r.best.overlap == pytest.approx(50 * 60 / (70 * 90), abs=0.02)
    assert r.best.psnr_db > 40


def test_unrelated_image_is_clean(audit):
    r = _by_test(audit)["other"]
    assert r.verdict == "clean"
    assert r.best is not None and r.best.psnr_db < 20


def test_other_tone_curve_is_same_scene(audit):
    r = _by_test(audit)["toned"]
    assert r.verdict == "same scene" and r.best.train == "a"
    assert r.best.psnr_db < 26 and r.best.detail_ncc > 0.9
    assert r.best.zoom == pytest.approx(1.0, rel=0.01)
    assert r.best.offset_y == pytest.approx(20, abs=1) and r.best.offset_x == pytest.approx(100, abs=1)


def test_unrelated_image_stays_below_the_detail_threshold(audit):
    # smoothed noise has little fine texture, so chance alignments correlate more than real photos do
    # (<= 0.34 on VCIP 2020); still well under the threshold
    assert all(m.detail_ncc < 0.45 for m in _by_test(audit)["other"].candidates)


def test_thresholds_decide_the_verdict(leak_case):
    train, test = parse_source(str(leak_case / "train")), parse_source(str(leak_case / "test"))
    photo_only = run_audit(train, test, Params(threshold_db=99.0, candidates=1), with_nir=False)
    verdicts = {r.test: r.verdict for r in photo_only.results}
    assert verdicts == {"copy": "identical", "half": "same scene", "edge": "same scene", "toned": "same scene",
                        "other": "clean"}
    strict = run_audit(train, test, Params(threshold_db=99.0, detail_ncc=1.0, candidates=1), with_nir=False)
    verdicts = {r.test: r.verdict for r in strict.results}
    assert verdicts == {"copy": "identical", "half": "clean", "edge": "clean", "toned": "clean", "other": "clean"}
    assert _by_test(strict)["half"].best.nir_psnr_db is None


def test_table_and_json(audit, tmp_path):
    table = format_table(audit)
    assert "5 test images" in table and "1 identical, 2 same photo, 1 same scene, 1 clean" in table
    line = next(ln for ln in table.splitlines() if ln.startswith("half "))
    assert "same photo" in line and "0.500" in line and "40, 60" in line
    out = tmp_path / "audit.json"
    write_json(audit, out)
    data = json.loads(out.read_text())
    assert data["summary"] == {"identical": 1, "same photo": 2, "same scene": 1, "clean": 1}
    half = next(r for r in data["results"] if r["test"] == "half")
    assert half["best"]["train"] == "a" and math.isclose(half["best"]["zoom"], 0.5, rel_tol=0.02)
    assert len(half["candidates"]) == 2 and data["params"]["threshold_db"] == 26.0


@pytest.mark.parametrize("kw", [{"zoom_min": 2.0, "zoom_max": 1.0}, {"min_overlap": 0.0}, {"candidates": 0},
                                {"detail_ncc": 0.0}])
def test_bad_params(kw):
    with pytest.raises(ConfigError):
        Params(**kw).check()


def test_zoom_grid_steps():
    z = Params(zoom_min=0.2, zoom_max=2.0, zoom_step=0.06).zooms()
    assert z[0] == pytest.approx(0.2) and z[-1] == pytest.approx(2.0)
    assert max(b / a for a, b in zip(z, z[1:])) <= 1.06 + 1e-9
    assert Params(zoom_min=1.0, zoom_max=1.0).zooms() == [1.0]


@pytest.mark.shared_data
def test_real_vcip_and_epfl_overlaps(shared_data):
    """Two facts from BENCHMARKS.md (data-audit), on a handful of files so that it runs in seconds."""
    from crossspec.audit.sources import Item, Source

    vcip, epfl = shared_data / "vcip2020", shared_data / "epfl-rgbnir-country"
    if not vcip.is_dir() or not epfl.is_dir():
        pytest.skip(f"needs {vcip} and {epfl}")
    test = Source("t", [Item(f"testing_{n}", vcip / "Testing" / f"Testing_{n}_rgb_reg.png",
                             vcip / "Testing" / f"testing_{n}_nir_reg.png") for n in ("0016", "0021")])
    photos = Source("p", [Item(n, epfl / f"{n}_rgb.jpg", epfl / f"{n}_nir.jpg") for n in ("0003", "0017")])
    crops = Source("c", [Item(k, vcip / "RGB-Registered" / f"{k}_rgb_reg.png") for k in ("mountain_0084",
                                                                                            "mountain_0080")])
    params = Params(zoom_min=0.3, zoom_max=1.5, candidates=2)
    got = {r.test: r for r in run_audit(photos, test, params).results}
    m = got["testing_0016"].best
    assert got["testing_0016"].verdict == "same photo" and m.train == "0003"
    assert m.zoom == pytest.approx(0.377, abs=0.003) and abs(m.offset_y) < 1 and abs(m.offset_x) < 1
    assert m.psnr_db > 35 and m.nir_psnr_db > 35
    assert got["testing_0021"].verdict == "clean"
    got = {r.test: r for r in run_audit(crops, test, params).results}
    m = got["testing_0021"].best
    assert got["testing_0021"].verdict == "same photo" and m.train == "mountain_0084"
    assert m.zoom == pytest.approx(1.32, abs=0.01) and m.overlap == pytest.approx(0.70, abs=0.02)
    assert m.psnr_db > 27
