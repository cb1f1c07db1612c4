"""tools/bench_scan.py: its naive baseline computes the same scan, and --write touches only its section."""
from __future__ import annotations

import importlib

import pytest
import torch

from crossspec.ops import selective_scan_reference


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("bench_scan")


def test_naive_baseline_matches_reference(bench):
    inputs = bench.make_inputs(batch=2, d_inner=4, d_state=3, length=11, groups=2, device="cpu")
    out, last = bench.naive_scan(**inputs, delta_softplus=True, return_last_state=True)
    ref, ref_last = selective_scan_reference(**{k: v.double() for k, v in inputs.items()}, delta_softplus=True,
                                             return_last_state=True)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(last.double(), ref_last, rtol=1e-5, atol=1e-6)


def test_write_section_replaces_only_its_markers(bench, tmp_path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# top\n<!-- other:start -->\nkeep\n<!-- other:end -->\n"
                   "<!-- bench_scan:start -->\nold\n<!-- bench_scan:end -->\ntail\n", encoding="utf-8")
    bench.write_section("bench_scan", "| new | table |", doc)
    text = doc.read_text(encoding="utf-8")
    assert "old" not in text and "| new | table |" in text
    assert text.startswith("# top\n<!-- other:start -->\nkeep\n") and text.endswith("<!-- bench_scan:end -->\ntail\n")


def test_main_runs_at_a_tiny_size(bench, capsys):
    threads = torch.get_num_threads()
    try:  # main() sets the thread count for the process; give it back to the rest of the suite
        bench.main(["--length", "16", "--naive-length", "8", "--d-inner", "4", "--repeat", "1", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "| torch | 1 | 16 |" in out and "| naive | 1 | 8 |" in out
