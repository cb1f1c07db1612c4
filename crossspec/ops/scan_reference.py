"""Sequential reference of the selective scan, written for clarity rather than speed.

It follows mamba-ssm's ``selective_scan_ref`` semantics step by step and is the yardstick the
other backends are tested against (run it on float64 inputs for that). Its autograd backward goes
through one small graph node per time step, which makes it very slow for long sequences: use it
for checking, not for training.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from crossspec.ops.scan_inputs import ScanInputs


def scan_reference(x: ScanInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Selective scan by a per-step loop.

    Args:
        x: validated inputs (see `crossspec.ops.scan_inputs.check_scan_inputs`); B and C already
           (batch, groups, d_state, L).

    Returns:
        ``(out, last_state)``: out (batch, d_inner, L) in ``u``'s dtype; last_state
        (batch, d_inner, d_state) in the compute dtype (float32, or float64 when any input is).
    """
    dtype = x.compute_dtype
    u = x.u.to(dtype)
    delta = x.effective_delta(dtype)
    A = x.A.to(dtype)
    batch, d_inner, _ = u.shape
    groups = x.B.shape[1]
    # Each group of d_inner // groups channels shares one B/C row.
    B = x.B.to(dtype).repeat_interleave(d_inner // groups, dim=1)  # (batch, d_inner, N, L)
    C = x.C.to(dtype).repeat_interleave(d_inner // groups, dim=1)
    h = u.new_zeros(batch, d_inner, A.shape[1])
    ys = []
    # unbind, not indexing: the backward of x[..., t] builds a zero tensor of x's full size for
    # every step, which makes a long reference quadratic in L.
    steps = zip(delta.unbind(-1), u.unbind(-1), B.unbind(-1), C.unbind(-1))
    for dt, u_t, B_t, C_t in steps:
        dt = dt[:, :, None]  # (batch, d_inner, 1)
        h = torch.exp(dt * A) * h + dt * B_t * u_t[:, :, None]
        ys.append((h * C_t).sum(-1))
    y = torch.stack(ys, dim=-1)
    if x.D is not None:
        y = y + u * x.D.to(dtype)[:, None]
    if x.z is not None:
        y = y * F.silu(x.z.to(dtype))
    return y.to(x.u.dtype), h
