"""Full-resolution alignment of a test image on a training image, and the PSNR of the aligned pair.

Two images of one photograph taken at different scales are compared on the grid of the coarser one
(call it B); the finer one (A) is low-pass filtered as an anti-aliased resize would (Gaussian,
sigma = (s - 1) / 2 for s A-pixels per B-pixel, scikit-image's choice) and sampled bilinearly at the
B pixel centres. The mapping is ``a = s * (b - pivot_b) + pivot_a`` per axis (the same s on both
axes), pivoting on the middle of the shared part so that changing the scale does not slide the
shared content; a pattern search over (s, pivot_a) refines the coarse estimate to a fraction of a
pixel by maximizing the NCC of the luminance. Only the B pixels that land inside A count: partial
overlaps are compared on what they share.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Pattern search: first steps (in B pixels and relative scale), halvings, and a cap on evaluations.
_STEP_PX = 1.0
_STEP_SCALE = 0.01
_HALVINGS = 4
_MAX_EVALS = 120


@dataclass(frozen=True)
class Alignment:
    """Where a test image lies on a training image, in training-image pixels.

    ``zoom``: test pixels per training pixel (1 = same resolution, 0.375 = the test shows a
    training region 2.67 times its size); ``offset_y, offset_x``: training-image coordinates of the
    test image's top-left corner (negative or beyond the edge when they only partly overlap);
    ``overlap``: fraction of the test image's area that lies on the training image.
    """

    zoom: float
    offset_y: float
    offset_x: float
    overlap: float


def _blur(img: np.ndarray, s: float) -> np.ndarray:
    sigma = max(0.0, (s - 1.0) / 2.0)
    if sigma == 0.0:
        return img
    return ndimage.gaussian_filter(img, sigma=(sigma, sigma) + (0,) * (img.ndim - 2), mode="nearest")


class _Pair:
    """A (finer, filtered) and B (coarser grid) of one candidate, with the mapping helpers."""

    def __init__(self, train: np.ndarray, test: np.ndarray, zoom: float) -> None:
        self.train_is_a = zoom <= 1.0
        self.s0 = 1.0 / zoom if self.train_is_a else zoom
        self.a_raw, self.b_raw = (train, test) if self.train_is_a else (test, train)
        self.a = _blur(self.a_raw, self.s0)
        self.b = self.b_raw
        # The point of B the scale pivots on: B's centre, or (see refine) the centre of the overlap, so
        # that a change of scale does not slide the shared content when the images only partly overlap.
        self.pivot = [(n - 1) / 2.0 for n in self.b.shape[:2]]

    def window(self, s: float, ca: tuple[float, float]) -> tuple[slice, slice, list[float]] | None:
        """B pixels whose centres map inside A, and the affine offsets for ``ndimage.affine_transform``."""
        sl, offsets = [], []
        for axis in (0, 1):
            nb, na = self.b.shape[axis], self.a.shape[axis]
            cb = self.pivot[axis]
            # pixel-centre coordinates: a = s * (b - cb) + ca must lie in [0, na - 1]
            lo = math.ceil(cb + (0.0 - ca[axis]) / s - 1e-9)
            hi = math.floor(cb + (na - 1 - ca[axis]) / s + 1e-9)
            lo, hi = max(lo, 0), min(hi, nb - 1)
            if hi < lo:
                return None
            sl.append(slice(lo, hi + 1))
            offsets.append(s * (lo - cb) + ca[axis])
        return sl[0], sl[1], offsets

    def sample(self, img_a: np.ndarray, s: float, ca: tuple[float, float]):
        """(A resampled on the B window, the B window) or None when they do not overlap."""
        win = self.window(s, ca)
        if win is None:
            return None
        ys, xs, offsets = win
        shape = (ys.stop - ys.start, xs.stop - xs.start)
        b = self.b_raw[ys, xs]
        if img_a.ndim == 2:
            a = ndimage.affine_transform(img_a, [s, s], offset=offsets, output_shape=shape, order=1, mode="nearest")
        else:
            a = np.stack([ndimage.affine_transform(img_a[..., c], [s, s], offset=offsets, output_shape=shape,
                                                   order=1, mode="nearest") for c in range(img_a.shape[-1])], -1)
        return a, b, ys, xs

    def cost(self, s: float, ca: tuple[float, float], min_pixels: int) -> float:
        """1 - NCC of the shared pixels: blind to gain and offset, so a second copy with another tone
        curve still aligns where its content does (mean squared error would trade position for tone)."""
        got = self.sample(self.a, s, ca)
        if got is None or got[0].shape[0] * got[0].shape[1] < min_pixels:
            return math.inf
        r = _corr(got[0].astype(np.float64), got[1].astype(np.float64))
        return math.inf if math.isnan(r) else 1.0 - r

    def to_alignment(self, s: float, ca: tuple[float, float], test_shape: tuple[int, int]) -> Alignment:
        cb = self.pivot
        # top-left edge of B (pixel-centre coordinate -0.5) in A's pixel-centre coordinates, then edges
        edge_a = [s * (-0.5 - cb[k]) + ca[k] + 0.5 for k in (0, 1)]
        if self.train_is_a:
            zoom, oy, ox = 1.0 / s, edge_a[0], edge_a[1]
            train_shape = self.a.shape[:2]
        else:
            # B is the training image: the test's edge 0 lies where s * (e_train) + edge_a = 0
            zoom, oy, ox = s, -edge_a[0] / s, -edge_a[1] / s
            train_shape = self.b.shape[:2]
        fy = (test_shape[0] / zoom, test_shape[1] / zoom)
        iy = max(0.0, min(train_shape[0], oy + fy[0]) - max(0.0, oy))
        ix = max(0.0, min(train_shape[1], ox + fy[1]) - max(0.0, ox))
        return Alignment(zoom, oy, ox, (iy * ix) / (fy[0] * fy[1]))


def _initial(pair: _Pair, zoom: float, oy: float, ox: float) -> tuple[float, tuple[float, float]]:
    """(s, pivot of B in A coordinates) from a coarse (zoom, offset)."""
    cb = pair.pivot
    if pair.train_is_a:
        # test pixel-centre c -> train edge oy + (c + 0.5) / zoom -> train centre coordinate - 0.5
        ca = tuple(o + (c + 0.5) / zoom - 0.5 for o, c in zip((oy, ox), cb))
    else:
        # train pixel-centre c -> test edge (c + 0.5 - o) * zoom -> test centre coordinate - 0.5
        ca = tuple((c + 0.5 - o) * zoom - 0.5 for o, c in zip((oy, ox), cb))
    return pair.s0, ca


def refine(train_gray: np.ndarray, test_gray: np.ndarray, zoom: float, offset_y: float, offset_x: float,
           min_overlap: float) -> tuple[Alignment, float]:
    """Pattern search around a coarse ``(zoom, offset)``; returns the refined alignment and its cost
    (1 - NCC of the luminance).

    ``min_overlap`` is the smallest fraction of the test image (in B pixels) a candidate may share.
    """
    pair = _Pair(train_gray, test_gray, zoom)
    s, ca = _initial(pair, zoom, offset_y, offset_x)
    win = pair.window(s, ca)
    if win is not None:  # pivot on the middle of the shared part
        new = [(w.start + w.stop - 1) / 2.0 for w in win[:2]]
        ca = tuple(ca[k] + s * (new[k] - pair.pivot[k]) for k in (0, 1))
        pair.pivot = new
    test_b_pixels = test_gray.size / (pair.s0 ** 2 if not pair.train_is_a else 1.0)
    min_pixels = max(1, int(min_overlap * test_b_pixels))
    best = pair.cost(s, ca, min_pixels)
    step_px, step_s, evals = _STEP_PX * s, _STEP_SCALE, 1
    for _ in range(_HALVINGS + 1):
        improved = True
        while improved and evals < _MAX_EVALS:
            improved = False
            trials = [(s, (ca[0] + d, ca[1])) for d in (-step_px, step_px)]
            trials += [(s, (ca[0], ca[1] + d)) for d in (-step_px, step_px)]
            trials += [(s * f, ca) for f in (1 - step_s, 1 + step_s)]
            for ts, tca in trials:
                m = pair.cost(ts, tca, min_pixels)
                evals += 1
                if m < best:
                    best, s, ca, improved = m, ts, tca, True
        step_px, step_s = step_px / 2, step_s / 2
    return pair.to_alignment(s, ca, test_gray.shape), best


def compare(train: np.ndarray, test: np.ndarray, al: Alignment) -> tuple[float, float, float]:
    """``(psnr_db, ncc, detail_ncc)`` of ``test`` against ``train`` (both ``(H, W)`` or ``(H, W, C)``
    in [0, 1]) at alignment ``al``, over the shared pixels on the coarser grid. PSNR covers all
    channels (``inf`` for identical pixels); NCC is of the channel mean; detail NCC is the NCC of its
    band-pass (difference of Gaussians, sigma 1 and 3 pixels): fine texture matches only where the
    pixels come from one photograph, whatever the tone curve or the smooth shapes. ``nan`` when
    nothing is shared."""
    pair = _Pair(train, test, al.zoom)
    cb = pair.pivot
    s = pair.s0
    edge_a = (al.offset_y, al.offset_x) if pair.train_is_a else (-al.offset_y * s, -al.offset_x * s)
    ca = tuple(edge_a[k] - 0.5 - s * (-0.5 - cb[k]) for k in (0, 1))
    got = pair.sample(pair.a, s, ca)
    if got is None:
        return math.nan, math.nan, math.nan
    a, b = got[0].astype(np.float64), got[1].astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    psnr = math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)
    if a.ndim == 3:
        a, b = a.mean(axis=-1), b.mean(axis=-1)

    def band(x: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(x, 1.0, mode="nearest") - ndimage.gaussian_filter(x, 3.0, mode="nearest")
    return psnr, _corr(a, b), _corr(band(a), band(b))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 0 else math.nan
