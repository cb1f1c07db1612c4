"""A small sequential selective scan used by the ColorMamba tests when `crossspec.ops` has none.

Same contract as mamba-ssm's ``selective_scan_fn``: u, delta (B, D, L); A (D, N);
B, C (B, G, N, L); D (D,); z (B, D, L); delta_bias (D,).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sequential_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    d = u.shape[1]
    g = B.shape[1]
    Bx = B.repeat_interleave(d // g, dim=1)  # (B, D, N, L)
    Cx = C.repeat_interleave(d // g, dim=1)
    h = u.new_zeros(u.shape[0], d, A.shape[1])
    ys = []
    for t in range(u.shape[-1]):
        dt = delta[:, :, t, None]
        h = torch.exp(dt * A) * h + dt * Bx[..., t] * u[:, :, t, None]
        ys.append((h * Cx[..., t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return y


def chunked_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, chunk=32):
    """Same result as :func:`sequential_scan`, vectorised inside chunks of ``chunk`` steps.

    Inside a chunk h_t = exp(S_t) h_0 + sum_{s<=t} exp(S_t - S_s) b_s with S the running sum of
    delta*A; only differences S_t - S_s <= 0 are exponentiated, so nothing overflows.
    """
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    d, length = u.shape[1], u.shape[-1]
    g = B.shape[1]
    Bx = B.repeat_interleave(d // g, dim=1)  # (B, D, N, L)
    Cx = C.repeat_interleave(d // g, dim=1)
    h = u.new_zeros(u.shape[0], d, A.shape[1])
    ys = []
    for s0 in range(0, length, chunk):
        sl = slice(s0, min(s0 + chunk, length))
        dt = delta[:, :, sl]  # (B, D, T)
        S = torch.cumsum(dt[:, :, None, :] * A[None, :, :, None], dim=-1)  # (B, D, N, T)
        b = dt[:, :, None, :] * Bx[..., sl] * u[:, :, None, sl]  # (B, D, N, T)
        t = S.shape[-1]
        diff = S[..., :, None] - S[..., None, :]  # (B, D, N, T_t, T_s)
        mask = torch.ones(t, t, dtype=torch.bool, device=u.device).tril()
        w = torch.exp(diff.masked_fill(~mask, float("-inf")))
        hs = torch.exp(S) * h[..., None] + (w * b[..., None, :]).sum(-1)  # (B, D, N, T)
        ys.append((hs * Cx[..., sl]).sum(2))
        h = hs[..., -1]
    y = torch.cat(ys, dim=-1)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return y


def install(monkeypatch) -> None:
    """Give `crossspec.ops` a scan for the test when the real one is not there yet."""
    import crossspec.ops as ops

    if getattr(ops, "selective_scan", None) is None:
        monkeypatch.setattr(ops, "selective_scan", chunked_scan, raising=False)
