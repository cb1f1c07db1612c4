"""SS2D: the 2-D selective-scan mixer of VMamba / MambaIR, as ColorMamba's VSSB uses it.

The feature map is read as four 1-D sequences (row-major, column-major and both reversed), each
direction gets its own input-dependent SSM parameters, the four are scanned in one call of
:func:`crossspec.ops.selective_scan` (directions stacked on the channel axis, one B/C group per
direction), mapped back onto the grid and summed.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.errors import CrossspecError


def _selective_scan():
    # Looked up at call time so the backend chosen by crossspec.ops (or a test's stand-in) is used.
    from crossspec import ops

    fn = getattr(ops, "selective_scan", None)
    if fn is None:
        raise CrossspecError("crossspec.ops.selective_scan: not available in this installation")
    return fn


def dt_bias_init(d_inner: int, dt_min: float = 1e-3, dt_max: float = 1e-1, floor: float = 1e-4) -> torch.Tensor:
    """Mamba's dt bias: softplus(bias) is log-uniform in [dt_min, dt_max]. Returns ``(d_inner,)``."""
    log_dt = torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
    dt = torch.exp(log_dt).clamp(min=floor)
    # inverse of softplus: x = dt + log(1 - exp(-dt))
    return dt + torch.log(-torch.expm1(-dt))


class SS2D(nn.Module):
    """Four-direction selective scan over a 2-D map.

    ``forward(x)``: ``(B, H, W, C)`` channels-last -> ``(B, H, W, C)``.
    Hyper-parameters follow Mamba: ``d_inner = expand * C``, ``dt_rank = ceil(C / 16)``.
    """

    directions = 4

    def __init__(self, dim: int, d_state: int = 16, expand: float = 2.0, d_conv: int = 3,
                 dt_rank: int | None = None, dt_min: float = 1e-3, dt_max: float = 1e-1) -> None:
        super().__init__()
        self.dim = dim
        self.d_state = d_state
        self.d_inner = int(expand * dim)
        self.dt_rank = dt_rank if dt_rank is not None else math.ceil(dim / 16)
        k, di, n, r = self.directions, self.d_inner, d_state, self.dt_rank

        self.in_proj = nn.Linear(dim, 2 * di, bias=False)
        self.conv2d = nn.Conv2d(di, di, d_conv, padding=d_conv // 2, groups=di, bias=True)
        self.x_proj_weight = nn.Parameter(torch.empty(k, r + 2 * n, di))
        self.dt_projs_weight = nn.Parameter(torch.empty(k, di, r))
        self.dt_projs_bias = nn.Parameter(torch.stack([dt_bias_init(di, dt_min, dt_max) for _ in range(k)]))
        # S4D-real: A = -(1..N) for every channel, stored as log so that A stays negative
        a = torch.arange(1, n + 1, dtype=torch.float32).repeat(k * di, 1)
        self.A_logs = nn.Parameter(torch.log(a))
        self.Ds = nn.Parameter(torch.ones(k * di))
        self.out_norm = nn.LayerNorm(di)
        self.out_proj = nn.Linear(di, dim, bias=False)

        bound = di ** -0.5
        nn.init.uniform_(self.x_proj_weight, -bound, bound)
        # Mamba scales the dt projection so dt's variance is preserved at init
        dt_std = r ** -0.5
        nn.init.uniform_(self.dt_projs_weight, -dt_std, dt_std)

    def _scan(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, d_inner, H, W) -> summed scan output of the 4 directions (B, d_inner, H, W)."""
        b, d, h, w = x.shape
        length = h * w
        k = self.directions
        rows = x.reshape(b, d, length)
        cols = x.transpose(2, 3).reshape(b, d, length)
        fwd = torch.stack([rows, cols], dim=1)
        xs = torch.cat([fwd, fwd.flip(-1)], dim=1)  # (B, 4, D, L)

        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, bs, cs = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)

        a = -torch.exp(self.A_logs.float())
        y = _selective_scan()(
            xs.reshape(b, k * d, length).float(), dts.reshape(b, k * d, length).float(), a,
            bs.float().contiguous(), cs.float().contiguous(), self.Ds.float(), z=None,
            delta_bias=self.dt_projs_bias.reshape(-1).float(), delta_softplus=True,
        ).reshape(b, k, d, length).to(x.dtype)

        # undo the reversals, then the transposition, so every direction lands on the same grid
        y_fwd = y[:, 0:2] + y[:, 2:4].flip(-1)
        y_rows = y_fwd[:, 0].reshape(b, d, h, w)
        y_cols = y_fwd[:, 1].reshape(b, d, w, h).transpose(2, 3)
        return y_rows + y_cols

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xz = self.in_proj(x)
        u, z = xz.chunk(2, dim=-1)
        u = F.silu(self.conv2d(u.permute(0, 3, 1, 2).contiguous()))
        y = self._scan(u).permute(0, 2, 3, 1)
        y = self.out_norm(y) * F.silu(z)
        return self.out_proj(y)
