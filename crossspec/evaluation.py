"""Scoring colorizations under one named protocol (the VCIP 2020 one; README.md, "Evaluate").

Per image, on the full image, prediction and ground truth as stored (uint8/255 in [0, 1]): PSNR, SSIM
(variant named in every report), angular error, LPIPS alex v0.1, colourfulness of the prediction and
its difference to the ground truth's. Each metric is averaged over the images of a split; a split is
scored from the same per-image values as every other split that contains the image.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from crossspec import metrics as M
from crossspec.errors import CrossspecError, DataError, file_error
from crossspec.io.atomic import TMP_MARKER, atomic_path
from crossspec.io.image import IMAGE_EXTENSIONS, read_image, to_float

log = logging.getLogger("crossspec")

METRIC_KEYS = ("psnr", "ssim", "ae", "lpips", "cf", "dcf")
_KEY_RE = re.compile(r"(?:(?P<source>[a-z]+)[_-]?)?(?P<num>\d+)(?!.*\d)")


@dataclass
class ImageScore:
    key: str
    name: str
    values: dict[str, float]


@dataclass
class EvalReport:
    protocol: dict
    splits: dict[str, list[str]]  # split -> keys, in dataset order
    images: dict[str, ImageScore] = field(default_factory=dict)
    # key -> {"input", "pred", "target"} uint8 (C,H,W), with run_eval(keep_predictions=True): for figures
    predictions: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for split, keys in self.splits.items():
            row: dict[str, float] = {"n": len(keys)}
            for m in METRIC_KEYS:
                vals = [self.images[k].values[m] for k in keys if m in self.images[k].values]
                if vals:
                    row[m] = float(np.mean(vals))
            out[split] = row
        return out

    def to_json(self) -> dict:
        return {"protocol": self.protocol, "splits": self.summary()}

    def format_table(self) -> str:
        cols = [("n", "{:d}", "n"), ("psnr", "{:.2f}", "PSNR"), ("ssim", "{:.4f}", "SSIM"), ("ae", "{:.3f}", "AE"),
                ("lpips", "{:.4f}", "LPIPS"), ("cf", "{:.2f}", "CF"), ("dcf", "{:.2f}", "dCF")]
        summary = self.summary()
        width = max([5] + [len(s) for s in summary])
        lines = [f"{'split':<{width}}  " + "  ".join(f"{h:>7}" for _, _, h in cols)]
        for split, row in summary.items():
            cells = []
            for key, fmt, _ in cols:
                v = row.get(key)
                cells.append(f"{(fmt.format(int(v)) if key == 'n' else fmt.format(v)) if v is not None else 'n/a':>7}")
            lines.append(f"{split:<{width}}  " + "  ".join(cells))
        lines.append(f"protocol: {self.protocol['description']}")
        return "\n".join(lines)

    def write_json(self, path: str | Path, overwrite: bool = True) -> None:
        with _naming(path), atomic_path(path, overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def write_csv(self, path: str | Path, overwrite: bool = True) -> None:
        membership: dict[str, list[str]] = {}
        for split, keys in self.splits.items():
            for k in keys:
                membership.setdefault(k, []).append(split)
        with _naming(path), atomic_path(path, overwrite=overwrite) as tmp:
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["key", "name", "splits", *METRIC_KEYS])
                for key, score in self.images.items():
                    w.writerow([key, score.name, " ".join(membership.get(key, [])),
                                *(f"{score.values[m]:.6f}" if m in score.values else "" for m in METRIC_KEYS)])


@contextlib.contextmanager
def _naming(path: str | Path):
    """OS errors while writing ``path`` name ``path``, not the temporary file beside it."""
    try:
        yield
    except OSError as exc:
        raise file_error(path, f"cannot write ({exc.strerror or exc})") from None


def check_output_file(path: str | Path, overwrite: bool = False) -> Path:
    """Fail now, naming ``path``, if a report cannot be written there later (before minutes of scoring).

    Refuses an existing file unless ``overwrite``, a folder, and a folder that cannot be created or
    written to; creates the parent folder.
    """
    path = Path(path)
    if path.is_dir():
        raise file_error(path, "is a folder; give a file name")
    if path.exists() and not overwrite:
        raise file_error(path, "exists already (pass --overwrite to replace it)")
    _probe_folder(path.parent, path)
    return path


def check_prediction_folder(folder: str | Path, keys: Sequence[str], overwrite: bool = False,
                            pool: Iterable[str] | None = None) -> Path:
    """Fail now if saving predictions ``<key>.png`` into ``folder`` would lose a file or leave a folder
    that no longer scores.

    A folder that holds anything is refused unless ``overwrite``; even then, an image that would
    become a second prediction for one of ``keys`` (``Testing_0005.png`` beside the new
    ``testing_0005.png``) is refused, since the folder would no longer score (``pool`` as in
    :func:`match_predictions`). Creates the folder.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise file_error(folder, "exists and is not a folder")
    if folder.is_dir():
        present = sorted(folder.iterdir())
        if present and not overwrite:
            raise file_error(folder, f"holds {len(present)} file(s) already (first: {present[0].name}); predictions "
                                     "of two runs would mix and the folder would no longer score; choose an empty "
                                     "folder or pass --overwrite")
        ours = {f"{k}.png" for k in keys}
        allowed = {k: _parse_key(k) for k in dict.fromkeys([*keys, *(pool if pool is not None else ())])}
        numbers = {kn for _, kn in allowed.values()}
        for f in _image_files(folder):
            parsed = _parse_key(f.stem)
            if f.name in ours or parsed is None or parsed[1] not in numbers:
                continue  # replaced, or names no image written now
            key = _key_of_file(f, allowed, set(keys))
            if key in keys:
                raise file_error(f, f"would be a second prediction for {key} beside the new {key}.png; "
                                    "move it away or choose another folder")
    _probe_folder(folder, folder)
    return folder


def _probe_folder(folder: Path, named: Path) -> None:
    """Create ``folder`` and a temporary file in it, so that permission problems surface now."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise file_error(named, f"cannot write here ({blocker} is a file, not a folder)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".probe.", suffix=TMP_MARKER, dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise file_error(named, f"cannot write here ({exc.strerror or exc})") from None


class Scorer:
    """Per-image metrics of ``(N,3,H,W)`` predictions against targets, both in [0, 1]."""

    def __init__(self, ssim_variant: str = "skimage", lpips_net: torch.nn.Module | None = None,
                 device: str = "cpu") -> None:
        if ssim_variant not in M.SSIM_VARIANTS:
            raise CrossspecError(f"unknown SSIM variant {ssim_variant!r}; choose from {', '.join(M.SSIM_VARIANTS)}")
        self.ssim_variant = ssim_variant
        self.lpips_net = lpips_net
        self.device = device

    def protocol(self) -> dict:
        return {
            "description": M.protocol_description(self.ssim_variant, lpips=self.lpips_net is not None),
            "ssim_variant": self.ssim_variant,
            "lpips": "alex v0.1" if self.lpips_net is not None else None,
            "value_range": "uint8/255 in [0, 1], full image, ground truth not stretched",
        }

    @torch.no_grad()
    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, np.ndarray]:
        pred = pred.double()
        target = target.double()
        out = {
            "psnr": M.psnr(pred, target),
            "ssim": M.ssim(pred, target, variant=self.ssim_variant),
            "ae": M.angular_error(pred, target),
            "cf": M.colorfulness(pred),
            "dcf": M.delta_colorfulness(pred, target),
        }
        if self.lpips_net is not None:
            out["lpips"] = self.lpips_net(pred.float().to(self.device), target.float().to(self.device))
        return {k: v.detach().double().cpu().numpy().reshape(-1) for k, v in out.items()}


def _parse_key(stem: str) -> tuple[str | None, int] | None:
    m = _KEY_RE.search(stem.lower())
    if m is None:
        return None
    return m.group("source"), int(m.group("num"))


def match_predictions(pred_dir: str | Path, samples: Sequence[str], pool: Iterable[str] | None = None) -> dict[str, Path]:
    """Match prediction files to sample keys by the number in their name.

    ``samples`` lists the keys to score (e.g. ``"testing_0005"``). A file name is matched by its last
    number and, where present, the word before it (``Testing_0005.png``, ``testing_0005_nir_reg.png``).
    A bare number (``0005.png``, or a word that names no source, ``fake_0005.png``) matches the key
    with that number among those scored: ``0005.png`` is Testing 5 when scoring test-28; it is
    ambiguous only when the scored splits hold two pairs numbered 5 (holdout-23 holds Validation 5 and
    Testing 5). ``pool`` lists every key the folder may legitimately hold (e.g. all Testing and
    Validation pairs); files for pool keys that are not scored are ignored. A file that matches no
    key, two files for one key, or a key with no file is an error that names it.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise file_error(pred_dir, "prediction folder does not exist")
    wanted = list(samples)
    for key in wanted:
        assert _parse_key(key) is not None, key
    allowed = {k: _parse_key(k) for k in dict.fromkeys([*wanted, *(pool if pool is not None else ())])}
    found: dict[str, Path] = {}
    for f in _image_files(pred_dir):
        key = _key_of_file(f, allowed, set(wanted))
        if key is None:
            continue
        if key in found:
            raise file_error(f, f"second prediction for {key} (first: {found[key].name})")
        found[key] = f
    missing = [k for k in wanted if k not in found]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DataError(f"{pred_dir}: missing predictions for {', '.join(missing[:5])}{more}")
    return {k: found[k] for k in wanted}


def _image_files(folder: Path) -> list[Path]:
    """Visible image files (hidden ones include crossspec's own temporary files)."""
    return [f for f in sorted(folder.iterdir())
            if not f.name.startswith(".") and f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()]


def _key_of_file(f: Path, allowed: Mapping[str, tuple[str | None, int]], scored: set[str]) -> str | None:
    """The key ``f`` is a prediction for; None for a file of a pool key that is not scored."""
    parsed = _parse_key(f.stem)
    if parsed is None:
        raise file_error(f, "extra prediction: its name has no image number to match")
    src, num = parsed
    same_num = [k for k, (_, kn) in allowed.items() if kn == num]
    named = [k for k in same_num if src is not None and allowed[k][0] in (src, None)]
    # a word before the number that is not a source name ("fake_0005") says nothing: match the number
    hits = named or same_num
    if not hits:
        raise file_error(f, f"extra prediction: no ground-truth pair numbered {num:04d}")
    if len(hits) == 1:
        return hits[0]
    scored_hits = [k for k in hits if k in scored]
    if len(scored_hits) > 1:
        raise file_error(f, f"ambiguous prediction: it could be {' or '.join(scored_hits)}; "
                            f"name it with its source, e.g. {scored_hits[0]}.png")
    return scored_hits[0] if scored_hits else None


def load_prediction(path: Path, shape: tuple[int, int]) -> torch.Tensor:
    """Read a prediction image as ``(3,H,W)`` in [0, 1]; errors name the file."""
    arr = read_image(path)
    if arr.ndim != 3 or arr.shape[2] != 3:
        channels = 1 if arr.ndim == 2 else arr.shape[2]
        raise file_error(path, f"prediction must have 3 channels (RGB), found {channels}")
    if arr.shape[:2] != tuple(shape):
        raise file_error(path, f"prediction is {arr.shape[1]}x{arr.shape[0]} but the ground truth is "
                               f"{shape[1]}x{shape[0]} (width x height); predictions are scored on the full image")
    return torch.from_numpy(to_float(arr)).permute(2, 0, 1)


def quantize(img: torch.Tensor) -> torch.Tensor:
    """Round ``[0,1]`` floats to the uint8 grid, as a saved 8-bit prediction would be."""
    return torch.round(img.clamp(0, 1) * 255) / 255


def evaluate(
    split_samples: Mapping[str, Sequence[Mapping]],
    predict: Callable[[list[Mapping]], torch.Tensor],
    scorer: Scorer,
    batch_size: int = 8,
) -> EvalReport:
    """Score every distinct sample of the splits once, then average per split.

    ``split_samples`` maps split names to sequences of samples (dicts with ``key``, ``name`` and
    ``target`` ``(3,H,W)``); ``predict(list_of_samples) -> (N,3,H,W)`` in [0, 1].
    """
    report = EvalReport(protocol=scorer.protocol(), splits={})
    pool: dict[str, Mapping] = {}
    for split, samples in split_samples.items():
        keys = []
        for i in range(len(samples)):
            s = samples[i]
            keys.append(s["key"])
            pool.setdefault(s["key"], s)
        report.splits[split] = keys
    items = list(pool.values())
    for start in range(0, len(items), batch_size):
        batch = items[start:start + batch_size]
        pred = predict(batch)
        target = torch.stack([s["target"] for s in batch])
        scores = scorer(pred, target)
        for j, s in enumerate(batch):
            vals = {m: float(scores[m][j]) for m in scores}
            if not all(math.isfinite(v) or m == "psnr" for m, v in vals.items()):
                log.warning("%s: non-finite metric values %s", s["key"], vals)
            report.images[s["key"]] = ImageScore(s["key"], s["name"], vals)
    return report


# --- wiring used by `crossspec eval` (and usable from Python) ------------------------------------

def load_split_samples(dataset: str, root: str | None, splits: Sequence[str], domain: str = "nir") -> dict:
    """``{split: dataset}`` for the named splits; ``domain="gray"`` makes the input the RGB luminance."""
    from crossspec.data import build_dataset

    return {s: build_dataset(dataset, root=root, split=s, domain=domain) for s in splits}


def build_lpips(weights: str | None, use_lpips: bool | None, device: str) -> torch.nn.Module | None:
    """The LPIPS network, or None when it is switched off or (by default) its trunk is not found."""
    if use_lpips is False:
        return None
    from crossspec.metrics.lpips import LPIPS

    try:
        return LPIPS.from_default(weights, device=device)
    except CrossspecError as exc:
        if weights is not None or use_lpips:
            raise
        log.warning("LPIPS skipped: %s", exc)
        return None


def _model_predictor(model: torch.nn.Module, device: str, save_dir: Path | None, overwrite: bool,
                     domain: str = "nir", tta: str = "none"):
    from crossspec.inference.predict import make_runner
    from crossspec.io.image import save_image

    # fp32 on every device: the scores must not depend on where they were computed.
    run = make_runner(model.to(device).eval(), domain, tta, amp=False)

    @torch.no_grad()
    def predict(batch: list[Mapping]) -> torch.Tensor:
        x = torch.stack([s["input"] for s in batch]).to(device)
        pred = quantize(run(x).float().cpu())
        if save_dir is not None:
            for s, p in zip(batch, pred):
                save_image(save_dir / f"{s['key']}.png", p.permute(1, 2, 0).numpy(), bits=8, overwrite=overwrite)
        return pred

    return predict


def _folder_predictor(found: Mapping[str, Path]):
    def predict(batch: list[Mapping]) -> torch.Tensor:
        return torch.stack([load_prediction(found[s["key"]], tuple(s["target"].shape[-2:])) for s in batch])

    return predict


def _keeping(predict, kept: dict):
    """``predict`` that also keeps each sample's input, prediction and target as uint8."""
    def u8(t: torch.Tensor) -> torch.Tensor:
        return torch.round(t.detach().float().cpu().clamp(0, 1) * 255).to(torch.uint8)

    def wrapped(batch: list[Mapping]) -> torch.Tensor:
        pred = predict(batch)
        for s, p in zip(batch, pred):
            kept[s["key"]] = {"input": u8(s["input"]), "pred": u8(p), "target": u8(s["target"])}
        return pred

    return wrapped


def run_eval(*, pred_dir=None, model=None, root=None, dataset="vcip2020", splits=("test-28", "test-clean-20"),
             domain="nir", ssim_variant="skimage", lpips_weights=None, use_lpips=None, save_pred=None,
             batch_size=8, device="cpu", overwrite=False, tta="none", keep_predictions=False) -> EvalReport:
    """Score a prediction folder, or a model (registered name or checkpoint path), on ``splits``.

    ``tta="hflip"`` (models only) averages each prediction with that of the mirrored input; the
    report's protocol records it. ``keep_predictions`` keeps every image (uint8) in
    ``report.predictions``, for :func:`crossspec.figures.comparison_figure`.
    """
    from crossspec.tta import check_tta

    if (pred_dir is None) == (model is None):
        raise CrossspecError("give exactly one of a prediction folder or a model")
    if check_tta(tta) != "none" and model is None:
        raise CrossspecError("--tta applies to a model or checkpoint, not to a folder of predictions")
    if save_pred and model is None:
        raise CrossspecError("--save-pred applies to a model or checkpoint, not to a folder of predictions")
    split_samples = load_split_samples(dataset, root, splits, domain)
    keys = list(dict.fromkeys(k for ds in split_samples.values() for k in ds.keys))
    pool = getattr(next(iter(split_samples.values())), "prediction_pool", None)
    if save_pred:
        check_prediction_folder(save_pred, keys, overwrite, pool)
    scorer = Scorer(ssim_variant, build_lpips(lpips_weights, use_lpips, device), device)
    if pred_dir is not None:
        predictor = _folder_predictor(match_predictions(pred_dir, keys, pool))
        source = f"predictions in {pred_dir}"
    else:
        from crossspec.models import load_model, model_info

        net = load_model(model, device)
        if hasattr(net, "fit"):
            fit_split = "train"
            fitted = net.fit(load_split_samples(dataset, root, [fit_split], domain)[fit_split])
            log.info("%s fitted on %s/%s: %s", model, dataset, fit_split,
                     ", ".join(f"{v:.4f}" for v in fitted.tolist()))
        save_dir = Path(save_pred) if save_pred else None
        predictor = _model_predictor(net, device, save_dir, overwrite, domain, tta)
        source = f"model {model}"
        shipped = model_info(net).pretrained if model_info(net) is not None else None  # type: ignore[union-attr]
        if shipped:
            source += f" (shipped weights, sha256 {shipped['sha256']})"
    kept: dict[str, dict[str, torch.Tensor]] = {}
    if keep_predictions:
        predictor = _keeping(predictor, kept)
    report = evaluate(split_samples, predictor, scorer, batch_size=batch_size)
    report.predictions = kept
    report.protocol["source"] = source
    report.protocol["domain"] = domain
    report.protocol["tta"] = tta
    if tta != "none":
        report.protocol["description"] += f"; test-time augmentation: {tta} (mean of 2 predictions)"
    return report
