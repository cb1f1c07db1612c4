"""Per-image Laplacian edge map, the structural cue both ColorMamba branches read."""
from __future__ import annotations

import torch
import torch.nn.functional as F

# 8-neighbour Laplacian, as in the released HSV branch
_KERNEL = ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0))


def laplacian_edges(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Laplacian of each image, min-max scaled per image and channel.

    ``(B, C, H, W)`` in [0, 1] -> ``(B, C, H, W)`` in [0, 1]. Each image is filtered and scaled on
    its own (the released code ran OpenCV on the whole batch array, mixing neighbouring images);
    a flat image maps to zeros.
    """
    c = x.shape[1]
    k = x.new_tensor(_KERNEL).view(1, 1, 3, 3).expand(c, 1, 3, 3)
    lap = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=c)
    lo = lap.amin(dim=(-2, -1), keepdim=True)
    hi = lap.amax(dim=(-2, -1), keepdim=True)
    return (lap - lo) / (hi - lo).clamp_min(eps)
