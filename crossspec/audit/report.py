"""The audit as a table for people and as JSON with every number."""
from __future__ import annotations

import json
import math
from pathlib import Path

from crossspec.audit.search import Audit, Match
from crossspec.io.atomic import atomic_path


def _db(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    return "inf" if math.isinf(x) else f"{x:.1f}"


def _row(test: str, verdict: str, m: Match | None, runner: Match | None, identical: list[str]) -> list[str]:
    if verdict == "identical" and identical:
        more = f" (+{len(identical) - 1})" if len(identical) > 1 else ""
        return [test, verdict, identical[0] + more, "1", "0, 0", "1.00", "1.000", "1.000", "inf (sha256)", "-", "-"]
    if m is None:
        return [test, verdict] + ["-"] * 9
    runner_txt = f"{_db(runner.psnr_db)} {runner.train}" if runner else "-"
    return [test, verdict, m.train, f"{m.zoom:.3f}", f"{m.offset_y:.0f}, {m.offset_x:.0f}", f"{m.overlap:.2f}",
            f"{m.ncc:.3f}", f"{m.detail_ncc:.3f}", _db(m.psnr_db), _db(m.nir_psnr_db), runner_txt]


def format_table(audit: Audit) -> str:
    """One row per test image: verdict, best training match (zoom = test pixels per training pixel,
    offset = where the test's top-left corner lies in the training image), its NCC, detail NCC and
    PSNR, and the best PSNR of any other training image (the noise floor)."""
    head = ["test", "verdict", "best training match", "zoom", "offset y, x", "overlap", "NCC", "detail", "PSNR dB",
            "NIR dB", "next best (dB, image)"]
    rows = [_row(r.test, r.verdict, r.best, r.runner_up, r.identical_to) for r in audit.results]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s, p = audit.summary(), audit.params
    lines.append("")
    lines.append(f"{len(audit.results)} test images ({audit.test}) against {audit.n_train} training images "
                 f"({audit.train}): " + ", ".join(f"{n} {v}" for v, n in s.items()))
    clean = [r for r in audit.results if r.verdict == "clean" and r.best is not None]
    if clean:
        worst = max(clean, key=lambda r: r.best.psnr_db if not math.isnan(r.best.psnr_db) else -math.inf)
        top = max(clean, key=lambda r: max((m.detail_ncc for m in r.candidates if not math.isnan(m.detail_ncc)
                                            and m.overlap >= p.min_overlap), default=-1.0))
        top_detail = max((m for m in top.candidates if not math.isnan(m.detail_ncc) and m.overlap >= p.min_overlap),
                         key=lambda m: m.detail_ncc, default=None)
        lines.append(f"clean test images, closest calls: PSNR {_db(worst.best.psnr_db)} dB ({worst.test} on "
                     f"{worst.best.train}; threshold {p.threshold_db:g})"
                     + (f", detail NCC {top_detail.detail_ncc:.3f} ({top.test} on {top_detail.train}; threshold "
                        f"{p.detail_ncc:g})" if top_detail else ""))
    lines.append(f"same photo = PSNR >= {p.threshold_db:g} dB, same scene = detail NCC >= {p.detail_ncc:g}, on an "
                 f"overlap >= {p.min_overlap:g} of the test image; zooms {p.zoom_min:g}-{p.zoom_max:g}, "
                 f"{p.candidates} candidates per test image; {audit.seconds:.0f} s")
    return "\n".join(lines)


def write_json(audit: Audit, path: str | Path, overwrite: bool = False) -> None:
    """Every number of the audit; PSNR of identical pixels is written as the string "inf"."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(audit.to_json(), indent=2) + "\n")
