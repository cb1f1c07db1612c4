"""Quantized ab gamut of Zhang, Isola & Efros 2016 ("Colorful Image Colorization"): bins, soft
encoding of a target, decoding of a predicted distribution.

The ab plane of CIE L*a*b* is cut into square cells of side ``grid`` (10) centred on the multiples
of ``grid``: the cell of centre ``c = (a_c, b_c)`` is ``[a_c - grid/2, a_c + grid/2) x [b_c -
grid/2, b_c + grid/2)``. A cell is *in gamut* when some sRGB colour (any lightness) has its ab in
it. The set is derived, not stored: sRGB colours are converted to Lab through kornia
(:func:`crossspec.color.rgb_to_lab`, D65) and the cells they fall in are collected. Only the six
faces of the RGB cube are sampled (``levels`` x ``levels`` points each): Lab is a continuous
one-to-one image of the cube, so the ab shadow of the whole gamut equals the shadow of its surface.

With kornia's conversion this gives **262 bins** (the same set at 257, 513 and 1025 samples per
face edge; 65 per edge finds only 261, missing a sliver cell), with centres spanning a in [-90, 100]
and b in [-110, 90] (sRGB reaches a in [-86.2, 98.2], b in [-107.9, 94.5]). The paper reports 313
over a similar span. Its list was made with its own conversion and procedure, which the paper does
not spell out; a looser test (a cell counted when it is near the gamut, or inside a hull around
it) keeps cells that no sRGB colour falls in. Such bins can be predicted but never be a training
target, so crossspec keeps exactly the cells sRGB reaches; the bin count is a property of the
gamut here, not a constant, and a model's head is sized from it.

Bins are ordered by ``a`` then ``b``; ``centres`` below is the ``(Q, 2)`` tensor of their ab
centres. All maps are ``(B, C, H, W)``: ab maps have ``C = 2`` (a, b in Lab units, roughly
[-110, 110]); distributions and logits over bins have ``C = Q``.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

GRID = 10.0
# The paper's soft-encoding kernel width and neighbour count, and its decoding temperature.
SIGMA = 5.0
NEIGHBOURS = 5
TEMPERATURE = 0.38
GAMUT_LEVELS = 257


def _cube_faces(levels: int) -> torch.Tensor:
    """The six faces of the RGB cube sampled on a ``levels`` x ``levels`` grid: ``(3, 6 * levels**2)``."""
    v = torch.linspace(0.0, 1.0, levels, dtype=torch.float64)
    u1, u2 = (t.flatten() for t in torch.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        others = [c for c in range(3) if c != axis]
        for value in (0.0, 1.0):
            face = torch.empty(3, u1.numel(), dtype=torch.float64)
            face[axis] = value
            face[others[0]], face[others[1]] = u1, u2
            faces.append(face)
    return torch.cat(faces, dim=1)


def cell_of(ab: torch.Tensor, grid: float = GRID) -> torch.Tensor:
    """Integer cell coordinates of ab values: ``floor(ab / grid + 1/2)`` (same shape, int64)."""
    return torch.floor(ab / grid + 0.5).long()


@functools.lru_cache(maxsize=4)
def _in_gamut_cells(grid: float, levels: int) -> tuple[tuple[int, int], ...]:
    from crossspec.color import rgb_to_lab

    rgb = _cube_faces(levels).to(torch.float32).unsqueeze(-1)  # (3, N, 1): an "image" of N x 1 pixels
    ab = rgb_to_lab(rgb)[1:].reshape(2, -1)
    cells = cell_of(ab, grid)
    # one integer per cell (a-major), so a 1-D unique sorts by a then b and stays fast
    span = int(cells.abs().max()) + 1
    keys = torch.unique((cells[0] + span) * (2 * span + 1) + (cells[1] + span))
    a, b = keys // (2 * span + 1) - span, keys % (2 * span + 1) - span
    return tuple(zip(a.tolist(), b.tolist()))


def gamut_centres(grid: float = GRID, levels: int = GAMUT_LEVELS) -> torch.Tensor:
    """ab centres of the in-gamut bins, ``(Q, 2)`` float32, ordered by a then b (Q = 262 at grid 10).

    ``levels`` is the sampling density of each RGB cube face (see the module docstring).
    """
    if grid <= 0:
        raise ValueError(f"grid must be positive, got {grid}")
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}")
    cells = _in_gamut_cells(float(grid), int(levels))
    return torch.tensor(cells, dtype=torch.float32) * float(grid)


def _check_map(x: torch.Tensor, channels: int | None, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or (channels is not None and x.shape[1] != channels):
        want = f"(B, {channels}, H, W)" if channels is not None else "(B, Q, H, W)"
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must have shape {want}, got {got}")


def _check_centres(centres: torch.Tensor) -> None:
    if centres.dim() != 2 or centres.shape[1] != 2 or centres.shape[0] < 1:
        raise ValueError(f"centres must have shape (Q, 2), got {tuple(centres.shape)}")


# Pixels per chunk when ranking bins: a (4096, Q) distance matrix stays in cache (2x faster than 64k).
_CHUNK = 4096


def _nearest_bins(ab: torch.Tensor, centres: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest bins of every pixel: squared distances and indices, both ``(B*H*W, k)``."""
    pts = ab.permute(0, 2, 3, 1).reshape(-1, 2).float()
    c = centres.to(pts.device, torch.float32)
    c2 = c.pow(2).sum(1)
    idx = torch.empty(pts.shape[0], k, dtype=torch.long, device=pts.device)
    # bf16 autocast would round |c|^2 ~ 1e4 to a few units and mis-rank neighbouring bins
    with torch.autocast(pts.device.type, enabled=False):
        for lo in range(0, pts.shape[0], _CHUNK):
            chunk = pts[lo : lo + _CHUNK]
            # |x - c|^2 up to the per-pixel constant |x|^2: enough to rank the bins
            idx[lo : lo + _CHUNK] = (c2[None, :] - 2.0 * chunk @ c.T).topk(k, dim=1, largest=False).indices
    # exact distances of the chosen bins: a pixel on a centre gets 0, not a rounding residue
    d2 = (pts[:, None, :] - c[idx]).pow(2).sum(-1)
    return d2, idx


def nearest_bin(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Index of the nearest in-gamut bin: ``(B, 2, H, W)`` -> ``(B, H, W)`` int64 in ``[0, Q)``."""
    _check_map(ab, 2, "ab")
    _check_centres(centres)
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    # A pixel whose lattice cell is a bin has that bin's centre as its nearest centre (the cells are
    # the Voronoi cells of the full lattice, of which the bins are a subset): one table look-up.
    # Only pixels in cells outside the gamut are ranked against every bin.
    cell_c = cell_of(centres.to(flat.device))
    lo = cell_c.min(0).values
    size = cell_c.max(0).values - lo + 1
    table = torch.full((int(size[0]) * int(size[1]),), -1, dtype=torch.long, device=flat.device)
    table[(cell_c[:, 0] - lo[0]) * size[1] + (cell_c[:, 1] - lo[1])] = torch.arange(len(centres), device=flat.device)
    cell = cell_of(flat.to(centres.dtype)) - lo
    inside = ((cell >= 0) & (cell < size)).all(1)
    idx = torch.full((flat.shape[0],), -1, dtype=torch.long, device=flat.device)
    idx[inside] = table[cell[inside, 0] * size[1] + cell[inside, 1]]
    rest = idx < 0
    if bool(rest.any()):
        idx[rest] = _nearest_bins(flat[rest].T.reshape(1, 2, -1, 1), centres, 1)[1][:, 0]
    return idx.view(b, h, w)


def soft_encode(ab: torch.Tensor, centres: torch.Tensor, neighbours: int = NEIGHBOURS,
                sigma: float = SIGMA) -> torch.Tensor:
    """Soft-encode an ab map onto its ``neighbours`` nearest bins with a Gaussian kernel.

    Each pixel's weights are ``exp(-d**2 / (2 sigma**2))`` over its ``neighbours`` nearest bin
    centres (``d`` their ab distance), normalised to sum 1; every other bin gets 0. Equidistant bins
    (a pixel on a cell edge) are chosen by the order of ``torch.topk``.
    ``(B, 2, H, W)`` -> ``(B, Q, H, W)`` in [0, 1], summing to 1 over ``Q``; no gradient to ``ab``.
    """
    _check_map(ab, 2, "ab")
    _check_centres(centres)
    q = centres.shape[0]
    if not 1 <= neighbours <= q:
        raise ValueError(f"neighbours must be in 1..{q}, got {neighbours}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    b, _, h, w = ab.shape
    with torch.no_grad():
        d2, idx = _nearest_bins(ab, centres, neighbours)
        # softmax of -d^2 / 2 sigma^2 is the normalised kernel, computed stably for far-away pixels
        weights = torch.softmax(-d2 / (2.0 * sigma * sigma), dim=1)
        dense = torch.zeros(d2.shape[0], q, dtype=weights.dtype, device=weights.device).scatter_(1, idx, weights)
    return dense.view(b, h, w, q).permute(0, 3, 1, 2).contiguous()


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """Annealed mean of a predicted distribution: ``sum_q f_T(z)_q * c_q``.

    ``f_T(z) = exp(log z / T) / sum exp(log z / T)`` re-sharpens the distribution ``z =
    softmax(logits)``; since ``log z = logits - const``, ``f_T(z) = softmax(logits / T)``. ``T = 1``
    is the mean, ``T -> 0`` the mode; the paper decodes with ``T = 0.38``. Differentiable; computed
    in float32. ``logits`` ``(B, Q, H, W)`` -> ab ``(B, 2, H, W)`` float32.
    """
    _check_map(logits, None, "logits")
    _check_centres(centres)
    if logits.shape[1] != centres.shape[0]:
        raise ValueError(f"logits have {logits.shape[1]} bins, the gamut has {centres.shape[0]}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    # float32 even under bf16 autocast: a bf16 sum over Q bins of values up to ~100 is off by ~1
    with torch.autocast(logits.device.type, enabled=False):
        probs = torch.softmax(logits.float() / temperature, dim=1)
        return torch.einsum("bqhw,qc->bchw", probs, centres.to(probs.device, torch.float32))


def distribution_mean(logits: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Mean of the predicted distribution (the annealed mean at ``T = 1``). ``(B, Q, H, W)`` -> ``(B, 2, H, W)``."""
    return annealed_mean(logits, centres, temperature=1.0)


def distribution_mode(logits: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Centre of the most probable bin (not differentiable). ``(B, Q, H, W)`` -> ``(B, 2, H, W)`` float32."""
    _check_map(logits, None, "logits")
    _check_centres(centres)
    if logits.shape[1] != centres.shape[0]:
        raise ValueError(f"logits have {logits.shape[1]} bins, the gamut has {centres.shape[0]}")
    best = logits.argmax(dim=1)  # (B, H, W)
    return F.embedding(best, centres.to(logits.device, torch.float32)).permute(0, 3, 1, 2).contiguous()
