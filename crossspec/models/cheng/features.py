"""Fixed per-pixel features of a one-channel image: the cheap stand-ins for Cheng et al.'s
low-level patch, mid-level DAISY and high-level semantic features.

Nothing here is learned; every feature is a fixed convolution, shift or pooling of the input, so
the whole descriptor costs a few passes over the image. For a pixel ``p``:

- ``patch``: the 7x7 window of input values around ``p`` (the paper's low-level feature), 49 values;
- ``coarse``: a 5x5 window of the input area-averaged over 4x4 blocks (a 20x20 px footprint), 25 values;
- ``daisy``: a DAISY-like descriptor (Tola et al.): rectified gradient energy in 8 orientations,
  smoothed by a Gaussian, read at ``p`` and at 4 points on each of two rings (radius 4 px with
  sigma 2, radius 8 px with sigma 4, the outer ring turned by 45 degrees): 8 x 9 = 72 values;
- ``context``: instead of the paper's semantic labels (a scene-parsing network we do not run), a soft
  8-bin histogram of input values pooled over a ~40 px neighbourhood and over the whole image: 16 values.

Borders are reflected (replicated where an image is too small to reflect).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

PATCH = 7
COARSE_PATCH, COARSE_FACTOR = 5, 4
ORIENTATIONS = 8
RINGS = ((4.0, 2.0, 0.0), (8.0, 4.0, math.pi / 4))  # (radius px, smoothing sigma px, start angle)
RING_POINTS = 4
HIST_BINS = 8
CONTEXT_FACTOR, CONTEXT_WINDOW = 8, 5


def _pad(x: torch.Tensor, p: int) -> torch.Tensor:
    if p == 0:
        return x
    mode = "reflect" if min(x.shape[-2:]) > p else "replicate"
    return F.pad(x, (p, p, p, p), mode=mode)


def _windows(x: torch.Tensor, k: int) -> torch.Tensor:
    """``(B, 1, H, W)`` -> ``(B, k*k, H, W)``: the k x k neighbourhood of every pixel."""
    b, _, h, w = x.shape
    return F.unfold(_pad(x, k // 2), k).view(b, k * k, h, w)


def _gaussian_1d(sigma: float) -> torch.Tensor:
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-t * t / (2 * sigma * sigma))
    return (g / g.sum()).float()


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., i, j] = x[..., i + dy, j + dx]`` with replicated borders."""
    r = max(abs(dy), abs(dx))
    if r == 0:
        return x
    h, w = x.shape[-2:]
    xp = F.pad(x, (r, r, r, r), mode="replicate")
    return xp[..., r + dy:r + dy + h, r + dx:r + dx + w]


class PixelFeatures(nn.Module):
    """``(B, 1, H, W)`` in [0, 1] -> ``(B, channels, H, W)`` (162 channels), any ``H, W >= 1``."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("sobel", torch.tensor([[[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]]]) / 8,
                             persistent=False)
        angles = torch.arange(ORIENTATIONS, dtype=torch.float32) * (2 * math.pi / ORIENTATIONS)
        self.register_buffer("directions", torch.stack([angles.cos(), angles.sin()], dim=1), persistent=False)
        for i, (_, sigma, _) in enumerate(RINGS):
            self.register_buffer(f"gauss{i}", _gaussian_1d(sigma), persistent=False)
        self.channels = (PATCH * PATCH + COARSE_PATCH * COARSE_PATCH + ORIENTATIONS * (1 + len(RINGS) * RING_POINTS)
                         + 2 * HIST_BINS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"PixelFeatures expects (B, 1, H, W), got {tuple(x.shape)}")
        return torch.cat([_windows(x, PATCH), self._coarse(x), self._daisy(x), self._context(x)], dim=1)

    def _coarse(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        small = F.adaptive_avg_pool2d(x, (max(1, -(-h // COARSE_FACTOR)), max(1, -(-w // COARSE_FACTOR))))
        return F.interpolate(_windows(small, COARSE_PATCH), size=(h, w), mode="bilinear", align_corners=False)

    @staticmethod
    def _smooth(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur of every channel, replicated borders."""
        c, r = x.shape[1], g.numel() // 2
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)

    def _daisy(self, x: torch.Tensor) -> torch.Tensor:
        grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), torch.cat([self.sobel, self.sobel.transpose(-1, -2)]))
        # rectified directional derivatives: energy of edges facing each of the 8 directions
        energy = F.relu(torch.einsum("bkhw,ok->bohw", grad, self.directions))
        parts = []
        for i, (radius, _, start) in enumerate(RINGS):
            smooth = self._smooth(energy, getattr(self, f"gauss{i}"))
            if i == 0:
                parts.append(smooth)
            for n in range(RING_POINTS):
                a = start + n * 2 * math.pi / RING_POINTS
                parts.append(_shift(smooth, round(radius * math.sin(a)), round(radius * math.cos(a))))
        return torch.cat(parts, dim=1)

    def _context(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        centres = (torch.arange(HIST_BINS, device=x.device, dtype=x.dtype) + 0.5) / HIST_BINS
        # triangular soft assignment: each value splits between its two nearest bin centres
        member = F.relu(1 - (x - centres.view(1, -1, 1, 1)).abs() * HIST_BINS)
        small = F.adaptive_avg_pool2d(member, (max(1, -(-h // CONTEXT_FACTOR)), max(1, -(-w // CONTEXT_FACTOR))))
        region = F.avg_pool2d(small, CONTEXT_WINDOW, stride=1, padding=CONTEXT_WINDOW // 2, count_include_pad=False)
        region = F.interpolate(region, size=(h, w), mode="bilinear", align_corners=False)
        whole = member.mean(dim=(-2, -1), keepdim=True).expand(-1, -1, h, w)
        return torch.cat([region, whole], dim=1)
