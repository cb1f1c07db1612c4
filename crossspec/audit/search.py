"""The audit: for every test image, the training image it comes from, if any.

1. Bytes: sha256 of every RGB (and NIR) file; a test file equal to a training file is ``identical``
   and is not searched further.
2. Coarse: luminance, the test image shrunk to ``coarse_size`` pixels on its long side; every
   training image resized for each zoom of a geometric grid; masked NCC over all offsets (partial
   overlaps of at least ``min_overlap`` of the test image included) keeps the best zoom and offset per
   (test, training) pair. The ``candidates`` training images with the highest NCC go on.
3. Middle: the same search at half the test's resolution over zooms within one coarse step.
4. Fine: a pattern search at full resolution (``align.refine``), then PSNR and NCC of the aligned
   images on the coarser image's grid; NIR PSNR too when both sides have NIR partners.

Verdict per test image: ``identical`` (same bytes, or same pixels with full overlap), ``same photo``
(PSNR >= ``threshold_db`` over an overlap >= ``min_overlap``), ``same scene`` (PSNR below that, but
the band-pass luminance correlates >= ``detail_ncc``: the fine texture of one view -- rocks, snow,
houses -- under another tone curve, or a second shot of the view at another focal length), else
``clean``. A ``clean`` verdict says that no candidate reached either threshold; the candidates are
those the coarse NCC ranked highest, so the report also gives the best numbers found, to show the
margin.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from skimage.transform import resize

from crossspec.audit.align import Alignment, compare, refine
from crossspec.audit.ncc import MovingBatch, fft_shape, masked_ncc
from crossspec.audit.sources import Item, Source, load_gray, load_rgb, sha256
from crossspec.errors import ConfigError

log = logging.getLogger(__name__)
VERDICTS = ("identical", "same photo", "same scene", "clean")  # strongest first


@dataclass(frozen=True)
class Params:
    threshold_db: float = 26.0
    detail_ncc: float = 0.5
    min_overlap: float = 0.25
    zoom_min: float = 0.2
    zoom_max: float = 2.0
    zoom_step: float = 0.06
    coarse_size: int = 32
    candidates: int = 5

    def check(self) -> None:
        if not 0.0 < self.zoom_min <= self.zoom_max:
            raise ConfigError(f"zoom range {self.zoom_min}..{self.zoom_max}: need 0 < min <= max")
        if not 0.0 < self.zoom_step < 1.0:
            raise ConfigError(f"zoom step {self.zoom_step}: need 0 < step < 1")
        if not 0.0 < self.min_overlap <= 1.0:
            raise ConfigError(f"min overlap {self.min_overlap}: need 0 < overlap <= 1")
        if not 0.0 < self.detail_ncc <= 1.0:
            raise ConfigError(f"detail NCC threshold {self.detail_ncc}: need 0 < threshold <= 1")
        if self.coarse_size < 8 or self.candidates < 1:
            raise ConfigError("coarse size must be >= 8 and candidates >= 1")

    def zooms(self) -> list[float]:
        """Geometric grid from zoom_min to zoom_max, consecutive zooms at most zoom_step apart (relative)."""
        if self.zoom_max == self.zoom_min:
            return [self.zoom_min]
        n = math.ceil(math.log(self.zoom_max / self.zoom_min) / math.log1p(self.zoom_step))
        return [float(z) for z in np.geomspace(self.zoom_min, self.zoom_max, n + 1)]


@dataclass
class Match:
    """One test image against one training image at its best alignment."""

    train: str
    file: str
    zoom: float
    offset_y: float
    offset_x: float
    overlap: float
    ncc: float
    detail_ncc: float
    psnr_db: float
    coarse_ncc: float
    nir_psnr_db: float | None = None


@dataclass
class Result:
    test: str
    file: str
    verdict: str
    identical_to: list[str] = field(default_factory=list)
    nir_identical_to: list[str] = field(default_factory=list)
    best: Match | None = None
    runner_up: Match | None = None
    candidates: list[Match] = field(default_factory=list)


@dataclass
class Audit:
    train: str
    test: str
    params: Params
    results: list[Result]
    seconds: float
    n_train: int

    def summary(self) -> dict[str, int]:
        out = {verdict: 0 for verdict in VERDICTS}
        for r in self.results:
            out[r.verdict] += 1
        return out

    def to_json(self) -> dict:
        def clean(x):
            if isinstance(x, float) and not math.isfinite(x):
                return None if math.isnan(x) else "inf"
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x

        return clean({"train": self.train, "test": self.test, "n_train": self.n_train, "n_test": len(self.results),
                      "params": asdict(self.params), "seconds": round(self.seconds, 1), "summary": self.summary(),
                      "results": [asdict(r) for r in self.results]})


def _pyramid(img: np.ndarray) -> list[np.ndarray]:
    """Halvings by 2x2 means, down to about 8 pixels: resizes start from the nearest level above."""
    levels = [img]
    while min(levels[-1].shape) >= 16:
        a = levels[-1]
        h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
        levels.append(a[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)))
    return levels


def _resized(levels: list[np.ndarray], factor: float) -> np.ndarray:
    k = 0
    while k + 1 < len(levels) and factor * 2 ** (k + 1) <= 1.0:
        k += 1
    h, w = levels[0].shape
    shape = (max(1, round(h * factor)), max(1, round(w * factor)))
    return resize(levels[k], shape, order=1, anti_aliasing=True, mode="edge").astype(np.float32)


def _grid_search(train_levels: list[list[np.ndarray]], tests: np.ndarray, test_full: tuple[int, int],
                 zooms: list[float], min_overlap: float) -> tuple[np.ndarray, np.ndarray]:
    """Best match of each (training image, test image) over ``zooms`` and all offsets.

    ``tests`` is ``(n, hc, wc)``: the test images at the search resolution, of full size
    ``test_full``. Offsets are ranked by the Fisher z-score of their NCC, ``atanh(ncc) *
    sqrt(overlap fraction)``, so that a small overlap needs a higher correlation than a full one
    (small smooth windows correlate well by chance). Returns ``ncc (T, n)`` at the best offset and
    ``geometry (T, n, 4)`` = zoom, offset_y, offset_x (full-resolution training pixels), score.
    """
    hc, wc = tests.shape[1:]
    shrink = math.sqrt(hc / test_full[0] * wc / test_full[1])  # search pixels per test pixel
    moving = MovingBatch(tests)
    best = np.full((len(train_levels), len(tests)), -1.0)
    geom = np.zeros((len(train_levels), len(tests), 4))
    geom[..., 3] = -np.inf
    cols = np.arange(len(tests))
    for z in zooms:
        fixed_all = [_resized(levels, z * shrink) for levels in train_levels]
        big = (max(f.shape[0] for f in fixed_all), max(f.shape[1] for f in fixed_all))
        shape = fft_shape(big, hc, wc)  # one FFT size per zoom: the test spectra are computed once
        for t, fixed in enumerate(fixed_all):
            if fixed.size < min_overlap * hc * wc:
                continue
            ncc, count = masked_ncc(fixed, moving, min_overlap, shape)
            score = np.arctanh(np.clip(ncc, -0.999, 0.999)) * np.sqrt(count / (hc * wc)).astype(np.float32)
            flat = score.reshape(len(tests), -1)
            k = flat.argmax(axis=1)
            vals = flat[cols, k]
            better = vals > geom[t, :, 3]
            if better.any():
                iy, ix = np.divmod(k[better], fixed.shape[1] + wc - 1)
                H, W = train_levels[t][0].shape
                ry, rx = fixed.shape[0] / H, fixed.shape[1] / W  # search pixels per training pixel
                best[t, better] = ncc.reshape(len(tests), -1)[cols[better], k[better]]
                geom[t, better, 0] = math.sqrt(ry * rx) / shrink
                geom[t, better, 1] = (iy - hc + 1) / ry
                geom[t, better, 2] = (ix - wc + 1) / rx
                geom[t, better, 3] = vals[better]
    return best, geom


def _test_stack(grays: list[np.ndarray], size: int) -> np.ndarray:
    h, w = grays[0].shape
    f = size / max(h, w)
    shape = (max(1, round(h * f)), max(1, round(w * f)))
    return np.stack([resize(g, shape, order=1, anti_aliasing=True, mode="edge") for g in grays]).astype(np.float32)


def run_audit(train: Source, test: Source, params: Params = Params(), with_nir: bool = True) -> Audit:
    """Audit ``test`` against ``train`` (see the module docstring)."""
    params.check()
    start = time.perf_counter()
    by_hash: dict[str, list[str]] = {}
    nir_by_hash: dict[str, list[str]] = {}
    for item in train.items:
        by_hash.setdefault(sha256(item.rgb), []).append(item.label)
        if with_nir and item.nir is not None:
            nir_by_hash.setdefault(sha256(item.nir), []).append(item.label)
    results: list[Result] = []
    to_search: list[tuple[Result, Item]] = []
    for item in test.items:
        r = Result(item.label, str(item.rgb), "clean", identical_to=by_hash.get(sha256(item.rgb), []))
        if with_nir and item.nir is not None:
            r.nir_identical_to = nir_by_hash.get(sha256(item.nir), [])
        results.append(r)
        if r.identical_to:
            r.verdict = "identical"
        else:
            to_search.append((r, item))
    log.info("audit: %d of %d test images byte-identical to training images; searching the other %d "
             "in %d training images", len(results) - len(to_search), len(results), len(to_search), len(train.items))
    if to_search:
        _search(train, to_search, params, with_nir)
    return Audit(train.spec, test.spec, params, results, time.perf_counter() - start, len(train.items))


def _search(train: Source, to_search: list[tuple[Result, Item]], params: Params, with_nir: bool) -> None:
    train_gray = [load_gray(it.rgb) for it in train.items]
    train_levels = [_pyramid(g) for g in train_gray]
    test_gray = [load_gray(it.rgb) for _, it in to_search]
    # one coarse pass per test-image size
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, g in enumerate(test_gray):
        by_shape.setdefault(g.shape, []).append(i)
    coarse_ncc = np.zeros((len(train.items), len(to_search)))
    coarse_geom = np.zeros((len(train.items), len(to_search), 4))
    zooms = params.zooms()
    for shape, idx in by_shape.items():
        stack = _test_stack([test_gray[i] for i in idx], params.coarse_size)
        t0 = time.perf_counter()
        ncc, geom = _grid_search(train_levels, stack, shape, zooms, params.min_overlap)
        coarse_ncc[:, idx], coarse_geom[:, idx] = ncc, geom
        log.info("audit: coarse search of %d test image(s) of %dx%d: %d zooms, %.0f s", len(idx), shape[1], shape[0],
                 len(zooms), time.perf_counter() - t0)
    rgb_cache: dict[int, np.ndarray] = {}
    for j, (res, item) in enumerate(to_search):
        test_rgb = load_rgb(item.rgb)
        order = np.argsort(-coarse_geom[:, j, 3])[:params.candidates]
        matches = []
        for t in order:
            if coarse_ncc[t, j] <= 0:
                continue
            al = _middle(train_gray[t], test_gray[j], *coarse_geom[t, j, :3], params)
            al, _ = refine(train_gray[t], test_gray[j], al.zoom, al.offset_y, al.offset_x, params.min_overlap)
            if t not in rgb_cache:
                rgb_cache[t] = load_rgb(train.items[t].rgb)
            psnr, ncc, detail = compare(rgb_cache[t], test_rgb, al)
            matches.append(Match(train.items[t].label, str(train.items[t].rgb), al.zoom, al.offset_y, al.offset_x,
                                 al.overlap, ncc, detail, psnr, float(coarse_ncc[t, j])))
            matches[-1].nir_psnr_db = _nir_psnr(train.items[t], item, al) if with_nir else None
        # strongest verdict first, then highest PSNR
        matches.sort(key=lambda m: (VERDICTS.index(_verdict(m, params)),
                                    -m.psnr_db if not math.isnan(m.psnr_db) else math.inf))
        res.candidates = matches
        if matches:
            res.best = matches[0]
            res.runner_up = next((m for m in matches[1:] if m.train != res.best.train), None)
            res.verdict = _verdict(res.best, params)
        log.info("audit: %s: %s (%s)", res.test, res.verdict,
                 f"{res.best.train} {res.best.psnr_db:.1f} dB" if res.best else "no candidate")


def _middle(train_gray: np.ndarray, test_gray: np.ndarray, zoom: float, oy: float, ox: float,
            params: Params) -> Alignment:
    """Search zooms within one coarse step of ``zoom`` at half the test's resolution, in a window of
    the training image around the coarse footprint (the coarse offset is good to a few pixels)."""
    fy, fx = test_gray.shape[0] / zoom, test_gray.shape[1] / zoom  # footprint in training pixels
    margin = 0.15 * max(fy, fx)
    y0, x0 = max(0, int(oy - margin)), max(0, int(ox - margin))
    y1 = min(train_gray.shape[0], int(math.ceil(oy + fy + margin)))
    x1 = min(train_gray.shape[1], int(math.ceil(ox + fx + margin)))
    if y1 - y0 < 8 or x1 - x0 < 8:
        return Alignment(zoom, oy, ox, math.nan)
    window = train_gray[y0:y1, x0:x1]
    size = max(params.coarse_size * 2, max(test_gray.shape) // 2)
    stack = _test_stack([test_gray], size)
    zooms = list(zoom * np.geomspace(1 / (1 + params.zoom_step), 1 + params.zoom_step, 7))
    _, geom = _grid_search([_pyramid(window)], stack, test_gray.shape, zooms, params.min_overlap)
    z, wy, wx, score = geom[0, 0]
    if not np.isfinite(score):  # no usable offset in the window: keep the coarse estimate
        return Alignment(zoom, oy, ox, math.nan)
    return Alignment(float(z), float(wy + y0), float(wx + x0), math.nan)


def _nir_psnr(train_item: Item, test_item: Item, al: Alignment) -> float | None:
    if train_item.nir is None or test_item.nir is None:
        return None
    return compare(load_gray(train_item.nir), load_gray(test_item.nir), al)[0]


def _verdict(m: Match, params: Params) -> str:
    if math.isinf(m.psnr_db) and m.overlap >= 0.999:  # no difference at all: the same pixels
        return "identical"
    if m.overlap < params.min_overlap or math.isnan(m.psnr_db):
        return "clean"
    if m.psnr_db >= params.threshold_db:
        return "same photo"
    if m.detail_ncc >= params.detail_ncc:
        return "same scene"
    return "clean"
