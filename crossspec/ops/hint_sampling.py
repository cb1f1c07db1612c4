"""Simulated colour hints drawn from a true image, as Zhang et al. (2017) train and evaluate.

Training (:func:`sample_hints` with ``count=None``), per image:

* the number of hints ``N`` is geometric on {0, 1, 2, ...} with ``p = 1/8``
  (``P(N = k) = (1 - p)^k p``): mean 7, and 1 image in 8 gets no hint at all, which keeps the
  network a plain automatic colorizer too;
* each hint is a square patch whose side is uniform in 1..9 pixels;
* its position is drawn from a 2-D Gaussian centred on the image with a standard deviation of a
  quarter of the side on each axis (users click near the centre more often), clipped to the image;
* its value is the mean true ab over the patch (over its valid pixels, when a validity mask is given;
  a patch without a valid pixel is dropped).

Evaluation (``count=n``, ``sides=(7,)``): a fixed number of hints at the same positions law; the draws
of hint ``i`` do not depend on ``count``, so with the same generator seed the first ``n`` hints of a
run with ``count=50`` are exactly the hints of a run with ``count=n``.

Everything draws from ``generator`` (a ``torch.Generator``) or, when ``None``, from torch's global
RNG, which the training engine seeds per ``(seed, epoch, sample)``: a resumed run draws the same hints.
"""
from __future__ import annotations

import math

import torch

from crossspec.ops.hint_map import AB_SCALE

GEOMETRIC_P = 1.0 / 8.0
TRAIN_SIDES = tuple(range(1, 10))
EVAL_SIDE = 7


def geometric_count(p: float = GEOMETRIC_P, generator: torch.Generator | None = None) -> int:
    """A draw of ``N`` with ``P(N = k) = (1 - p)^k p``, ``k = 0, 1, ...`` (inverse CDF)."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p must lie in (0, 1], got {p}")
    if p == 1.0:
        return 0
    u = 1.0 - float(torch.rand((), generator=generator))  # in (0, 1]
    return int(math.floor(math.log(u) / math.log1p(-p)))


def _position(length: int, side: int, generator: torch.Generator | None) -> int:
    # Gaussian around the image centre, std length / 4, as the first pixel of a patch of `side`
    centre = (length - side) / 2.0
    z = float(torch.randn((), generator=generator))
    return int(min(max(round(centre + z * length / 4.0), 0), length - side))


def sample_hints(ab: torch.Tensor, *, count: int | None = None, sides: tuple[int, ...] = TRAIN_SIDES,
                 p: float = GEOMETRIC_P, valid: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints drawn from the true chrominance of one image (see the module docstring).

    Args:
        ab: ``(2, H, W)`` true Lab a, b (Lab units).
        count: number of hints; ``None`` draws it (geometric with ``p``).
        sides: patch sides drawn uniformly (clipped to the image's shorter side).
        valid: optional ``(1, H, W)`` or ``(H, W)`` validity (1 = usable pixel).

    Returns ``(hint_ab (2, H, W) = a / AB_SCALE, b / AB_SCALE inside hints and 0 elsewhere,
    mask (1, H, W) in {0, 1})``, float32.
    """
    if ab.dim() != 3 or ab.shape[0] != 2:
        raise ValueError(f"ab must be (2, H, W), got {tuple(ab.shape)}")
    if not sides or min(sides) < 1:
        raise ValueError(f"sides must be positive patch sides, got {sides}")
    _, h, w = ab.shape
    ok = None if valid is None else valid.reshape(h, w).to(ab.dtype)
    hint = torch.zeros(2, h, w)
    mask = torch.zeros(1, h, w)
    n = geometric_count(p, generator) if count is None else int(count)
    for _ in range(n):
        side = sides[int(torch.randint(len(sides), (), generator=generator))]
        side = min(side, h, w)
        y, x = _position(h, side, generator), _position(w, side, generator)
        patch = ab[:, y:y + side, x:x + side].float()
        if ok is None:
            value = patch.mean(dim=(1, 2))
        else:
            weight = ok[y:y + side, x:x + side].float()
            if weight.sum() == 0:
                continue
            value = (patch * weight).sum(dim=(1, 2)) / weight.sum()
        hint[:, y:y + side, x:x + side] = (value / AB_SCALE).view(2, 1, 1)
        mask[:, y:y + side, x:x + side] = 1.0
    return hint, mask
