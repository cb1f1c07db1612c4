"""Normalized cross-correlation over every relative offset of two images, partial overlaps included.

Masked NCC (Padfield, "Masked object registration in the Fourier domain", IEEE TIP 2012) with
rectangular masks: at each offset the correlation is computed over the pixels the two images share,
so a test crop that sticks out of a training crop still scores on the part it shares. Offsets whose
overlap is below ``min_overlap`` of the moving image's area are excluded: tiny overlaps correlate
highly by chance.

With rectangles, the overlap at each offset is a rectangle of either image, so its count, sums and
sums of squares come from integral images; only the cross term needs an FFT. Per pair of images the
cost is one spectrum product and one inverse FFT (moving spectra are cached per FFT shape).
"""
from __future__ import annotations

import numpy as np
from scipy import fft as sfft

# Below this variance per pixel (images in [0, 1]) a window is flat: its correlation means nothing.
_FLAT = 1e-6


def _integral(a: np.ndarray) -> np.ndarray:
    """Summed-area table with a zero first row and column: ``(..., h + 1, w + 1)``."""
    out = np.zeros(a.shape[:-2] + (a.shape[-2] + 1, a.shape[-1] + 1))
    out[..., 1:, 1:] = a.cumsum(-2).cumsum(-1)
    return out


def _ranges(n_fixed: int, n_moving: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output index along one axis (offset ``d = i - n_moving + 1``): the overlap as index ranges
    ``[f0, f1)`` of the fixed image and ``[m0, m1)`` of the moving one."""
    d = np.arange(n_fixed + n_moving - 1) - n_moving + 1
    f0, f1 = np.maximum(d, 0), np.minimum(n_fixed, d + n_moving)
    return f0, f1, f0 - d, f1 - d


def _box(integral: np.ndarray, y0, y1, x0, x1) -> np.ndarray:
    ya, yb, xa, xb = y0[:, None], y1[:, None], x0[None, :], x1[None, :]
    return integral[..., yb, xb] - integral[..., ya, xb] - integral[..., yb, xa] + integral[..., ya, xa]


class MovingBatch:
    """A stack of moving images ``(n, h, w)`` in [0, 1], with integral images and cached spectra."""

    def __init__(self, images: np.ndarray) -> None:
        if images.ndim != 3:
            raise ValueError(f"moving images must be (n, h, w), got shape {images.shape}")
        # Centring each image keeps the sums of squares small, so the variances below do not cancel.
        images = images.astype(np.float64)
        self.images = images - images.mean(axis=(1, 2), keepdims=True)
        self.n, self.h, self.w = images.shape
        self.sum1 = _integral(self.images)
        self.sum2 = _integral(self.images ** 2)
        self._spectra: dict[tuple[int, int], np.ndarray] = {}
        self._sums: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def spectrum(self, shape: tuple[int, int]) -> np.ndarray:
        """FFT of the flipped images zero-padded to ``shape`` (complex64: NCC needs no more here)."""
        if shape not in self._spectra:
            self._spectra[shape] = sfft.rfft2(self.images[:, ::-1, ::-1], shape).astype(np.complex64)
        return self._spectra[shape]


    def sums(self, fixed_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For a fixed image of ``fixed_shape``, at each offset: the overlap's pixel count, the moving
        images' mean over it and the inverse of their root sum of squared deviations (0 where flat)."""
        if fixed_shape not in self._sums:
            fy0, fy1, my0, my1 = _ranges(fixed_shape[0], self.h)
            fx0, fx1, mx0, mx1 = _ranges(fixed_shape[1], self.w)
            count = ((fy1 - fy0)[:, None] * (fx1 - fx0)[None, :]).astype(np.float64)
            sum_m = _box(self.sum1, my0, my1, mx0, mx1)
            var_m = _box(self.sum2, my0, my1, mx0, mx1) - sum_m ** 2 / count
            usable = var_m > _FLAT * count
            inv_sd = np.where(usable, 1.0 / np.sqrt(np.where(usable, var_m, 1.0)), 0.0)
            self._sums[fixed_shape] = (count, (sum_m / count).astype(np.float32), inv_sd.astype(np.float32))
        return self._sums[fixed_shape]


def fft_shape(fixed_shape: tuple[int, int], h: int, w: int) -> tuple[int, int]:
    """The padded FFT size for a fixed image of ``fixed_shape`` and moving images of ``h x w``; pass
    the largest fixed shape of a set so that all of them share one cached moving spectrum."""
    return (sfft.next_fast_len(fixed_shape[0] + h - 1, real=True),
            sfft.next_fast_len(fixed_shape[1] + w - 1, real=True))


def masked_ncc(fixed: np.ndarray, moving: MovingBatch, min_overlap: float,
               shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """NCC of each moving image placed at every offset on ``fixed`` (2-D, in [0, 1]).

    Returns ``(ncc, count)``: ``ncc`` is ``(n, H + h - 1, W + w - 1)`` float32, entry ``[k, i, j]``
    the NCC when moving image k's top-left pixel lies on ``fixed[i - h + 1, j - w + 1]`` (offsets may
    be negative: partial overlap); ``count`` ``(H + h - 1, W + w - 1)`` the pixels shared there.
    Offsets sharing fewer than ``min_overlap * h * w`` pixels, or where either side is flat, are 0.
    ``shape`` is the FFT size (default ``fft_shape(fixed.shape, h, w)``).
    """
    H, W = fixed.shape
    h, w = moving.h, moving.w
    shape = shape or fft_shape(fixed.shape, h, w)
    f = fixed.astype(np.float64)
    f = f - f.mean()
    fy0, fy1, _, _ = _ranges(H, h)
    fx0, fx1, _, _ = _ranges(W, w)
    count, mean_m, inv_sd_m = moving.sums(fixed.shape)
    sum_f = _box(_integral(f), fy0, fy1, fx0, fx1)
    var_f = _box(_integral(f ** 2), fy0, fy1, fx0, fx1) - sum_f ** 2 / count
    usable_f = (count >= min_overlap * h * w) & (var_f > _FLAT * count)
    inv_sd_f = np.where(usable_f, 1.0 / np.sqrt(np.where(usable_f, var_f, 1.0)), 0.0).astype(np.float32)
    cross = sfft.irfft2(sfft.rfft2(f, shape).astype(np.complex64) * moving.spectrum(shape), shape)
    # cov = sum(f m) - sum(f) mean(m) over the overlap; zero inverse deviations mark unusable offsets
    cov = cross[:, :H + h - 1, :W + w - 1]
    cov -= sum_f.astype(np.float32) * mean_m
    cov *= inv_sd_f
    cov *= inv_sd_m
    return cov, count
