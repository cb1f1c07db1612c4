"""Figures: a comparison grid of scored colorizations and the training curves of runs.

matplotlib is an optional dependency (``pip install 'crossspec[plot]'``); it is imported when a
figure is drawn, and its absence is a one-line error. Only the object-oriented API (``Figure`` +
the Agg canvas) is used, so drawing never touches pyplot's global state or a display.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from crossspec.errors import CrossspecError, file_error

DPI = 100
MIN_TILE = 128  # pixels of a grid tile at least
PNG_BUDGET = 1_000_000  # bytes; a comparison grid above it is stored with fewer bits per channel


def require_matplotlib() -> None:
    """Raise a CrossspecError that says how to install matplotlib when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CrossspecError("figures need matplotlib, which is not installed: pip install 'crossspec[plot]'") from None


def _new_figure(width_px: float, height_px: float):
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _encode(image, budget: int | None) -> bytes:
    """PNG bytes of an RGB image; above ``budget``, with fewer bits per channel (rounded, so a
    value moves by at most 4/255 at 5 bits), and a 256-colour palette as the last resort."""
    from PIL import Image

    data = _png(image)
    arr = np.asarray(image).astype(np.int16)
    for bits in (7, 6, 5):
        if budget is None or len(data) <= budget:
            return data
        step = 1 << (8 - bits)
        data = _png(Image.fromarray(np.clip((arr + step // 2) // step * step, 0, 255).astype(np.uint8)))
    if len(data) > budget:
        data = _png(image.quantize(colors=256, method=Image.Quantize.MEDIANCUT))
    return data


def _save(fig, path: str | Path, *, overwrite: bool, budget: int | None = None) -> Path:
    """Write ``fig`` as an RGB PNG (no alpha: a quarter smaller), atomically, within ``budget`` bytes."""
    from PIL import Image

    from crossspec.io.atomic import atomic_path

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    data = _encode(Image.open(buf).convert("RGB"), budget)
    with atomic_path(path, overwrite=overwrite) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


# --- comparison grid ------------------------------------------------------------------------------

def pick_images(report, wanted: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """``[(key, row label)]``: the ``wanted`` images (keys such as ``testing_0005`` or numbers such
    as ``5``), else the best, the median and the worst image of ``report`` by PSNR."""
    from crossspec.evaluation import _parse_key

    keys = list(report.images)
    if not keys:
        raise CrossspecError("no scored images to draw")
    if wanted:
        picked = []
        for item in wanted:
            if item in report.images:
                picked.append((item, item))
                continue
            if not item.isdigit():
                raise CrossspecError(f"--figure-images: {item!r} is not a scored image key or number "
                                     f"(e.g. {keys[0]} or {_parse_key(keys[0])[1]})")
            hits = [k for k in keys if _parse_key(k)[1] == int(item)]
            if len(hits) != 1:
                why = f"matches {' and '.join(hits)}; give the key" if hits else "matches no scored image"
                raise CrossspecError(f"--figure-images: {item!r} {why}")
            picked.append((hits[0], hits[0]))
        return picked
    order = sorted(keys, key=lambda k: report.images[k].values["psnr"], reverse=True)
    rows = {order[0]: "best", order[len(order) // 2]: "median", order[-1]: "worst"}
    return [(k, f"{k} ({label})") for k, label in rows.items()]


def _short(label: str, chars: int) -> str:
    return label if len(label) <= chars else "…" + label[-(chars - 1):]


def comparison_figure(sources: Sequence[tuple[str, Any]], path: str | Path, *, images: Sequence[str] | None = None,
                      domain: str = "nir", overwrite: bool = False) -> Path:
    """A grid with one row per image: input | each source's prediction (its PSNR on the tile) | ground truth.

    ``sources`` is ``[(label, EvalReport)]`` with predictions kept (``run_eval(keep_predictions=True)``);
    rows are :func:`pick_images` of the first source.
    """
    if not sources:
        raise CrossspecError("no sources to draw")
    for label, report in sources:
        if not report.predictions:
            raise CrossspecError(f"{label}: no kept predictions (run_eval(keep_predictions=True))")
    rows = pick_images(sources[0][1], images)
    # drawn at their own size (pixel for pixel), small images enlarged to stay legible
    tile = max(MIN_TILE, max(max(sources[0][1].predictions[k]["target"].shape[-2:]) for k, _ in rows))
    gap, left, top = 4, 30, 22
    ncols = len(sources) + 2
    width, height = left + ncols * (tile + gap), top + len(rows) * (tile + gap)
    fig = _new_figure(width, height)
    titles = [f"input ({domain.upper()})"] + [_short(label, tile // 7) for label, _ in sources] + ["ground truth"]
    for r, (key, row_label) in enumerate(rows):
        first = sources[0][1].predictions[key]
        tiles = [first["input"]] + [rep.predictions[key]["pred"] for _, rep in sources] + [first["target"]]
        for c, img in enumerate(tiles):
            x0, y0 = left + c * (tile + gap), height - top - (r + 1) * (tile + gap) + gap
            ax = fig.add_axes((x0 / width, y0 / height, tile / width, tile / height))
            arr = img.permute(1, 2, 0).numpy()
            ax.imshow(arr[..., 0] if arr.shape[-1] == 1 else arr, cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=9, pad=3)
            if c == 0:
                ax.set_ylabel(row_label, fontsize=8)
            if 0 < c <= len(sources):
                psnr = sources[c - 1][1].images[key].values["psnr"]
                ax.text(0.03, 0.97, f"{psnr:.2f} dB", transform=ax.transAxes, va="top", ha="left", fontsize=9,
                        color="white", bbox={"facecolor": "black", "alpha": 0.6, "pad": 2, "linewidth": 0})
    return _save(fig, path, overwrite=overwrite, budget=PNG_BUDGET)


# --- training curves ------------------------------------------------------------------------------

NOT_TRAIN_TERMS = {"kind", "step", "epoch", "it_s", "time", "lr", "grad_norm"}
NOT_VAL_METRICS = {"kind", "step", "time", "lr", "images", "baseline_psnr"}
VAL_TITLES = {"psnr": "PSNR (dB)", "ssim": "SSIM", "ae": "AE (°)"}


def read_log(run_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """``{"train": [...], "val": [...]}`` records of ``run_dir/log.jsonl``, one per step, in step order.

    A resumed run logs again the steps after its last checkpoint; the later record wins, as it
    belongs to the weights the run went on with.
    """
    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        raise file_error(path, "no training log (is this a run folder?)", CrossspecError)
    by_kind: dict[str, dict[int, dict]] = {"train": {}, "val": {}}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise file_error(path, f"line {n} is not JSON", CrossspecError) from None
        if rec.get("kind") in by_kind and isinstance(rec.get("step"), int):
            by_kind[rec["kind"]][rec["step"]] = rec
    if not by_kind["train"] and not by_kind["val"]:
        raise file_error(path, "holds no train or val records", CrossspecError)
    return {k: [v[s] for s in sorted(v)] for k, v in by_kind.items()}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r["step"], r[key]) for r in records if _number(r.get(key))]
    return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)


def _smooth(y: np.ndarray) -> np.ndarray:
    """Trailing mean over a thirtieth of the points (a noisy loss read as a trend)."""
    window = max(1, len(y) // 30)
    if window == 1:
        return y
    padded = np.concatenate([np.full(window - 1, y[0]), y])
    return np.convolve(padded, np.ones(window) / window, mode="valid")


def _keys(logs: Mapping[str, dict], kind: str, skip: set[str], first: Sequence[str]) -> list[str]:
    found: dict[str, None] = {}
    for log in logs.values():
        for rec in log[kind]:
            found.update((k, None) for k, v in rec.items() if k not in skip and _number(v))
    return [k for k in first if k in found] + sorted(k for k in found if k not in first)


def _labels(run_dirs: Sequence[Path]) -> list[str]:
    names = [p.resolve().name for p in run_dirs]
    return names if len(set(names)) == len(names) else [str(p) for p in run_dirs]


def curve_panels(logs: Mapping[str, dict]) -> list[tuple[str, str, str]]:
    """``[(kind, key, title)]`` to draw for ``{label: read_log(run)}``: the loss terms any run logged
    (total first), the learning rate, the gradient norm and the validation metrics (PSNR, SSIM, AE first)."""
    panels = [("train", k, f"train {k}") for k in _keys(logs, "train", NOT_TRAIN_TERMS, ["loss"])]
    panels += [("train", k, k if k == "lr" else "gradient norm") for k in ("lr", "grad_norm")
               if any(_series(log["train"], k)[0].size for log in logs.values())]
    panels += [("val", k, f"validation {VAL_TITLES.get(k, k)}")
               for k in _keys(logs, "val", NOT_VAL_METRICS, ["psnr", "ssim", "ae"])]
    return panels


def training_curves(run_dirs: Sequence[str | Path], path: str | Path, *, overwrite: bool = False) -> Path:
    """One panel per loss term, the learning rate (and gradient norm) and each validation metric,
    every run overlaid in its own colour."""
    run_dirs = [Path(p) for p in run_dirs]
    if not run_dirs:
        raise CrossspecError("no run folders to plot")
    logs = {label: read_log(d) for label, d in zip(_labels(run_dirs), run_dirs)}
    panels = curve_panels(logs)
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    legend_px = 40
    fig = _new_figure(ncols * 400, nrows * 290 + legend_px)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colours = [f"C{i % 10}" for i in range(len(logs))]
    for ax, (kind, key, title) in zip(axes, panels):
        for colour, (label, log) in zip(colours, logs.items()):
            x, y = _series(log[kind], key)
            if not x.size:
                continue
            if kind == "train" and key != "lr" and len(y) > 30:
                ax.plot(x, y, color=colour, alpha=0.25, linewidth=0.8)
                ax.plot(x, _smooth(y), color=colour, linewidth=1.4, label=label)
            else:
                ax.plot(x, y, color=colour, linewidth=1.4, marker="o" if kind == "val" else None, markersize=3,
                        label=label)
            if (kind, key) == ("val", "psnr"):
                bx, by = _series(log["val"], "baseline_psnr")
                if bx.size:
                    ax.plot(bx, by, color=colour, linestyle=":", linewidth=1.0)
        ax.set_title(title + (" (dotted: nir-gray baseline)" if (kind, key) == ("val", "psnr") else ""), fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - legend_px / (nrows * 290 + legend_px)))
    return _save(fig, path, overwrite=overwrite)
