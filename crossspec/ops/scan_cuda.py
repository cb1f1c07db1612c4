"""mamba-ssm's fused CUDA selective scan, imported lazily.

mamba-ssm is an optional extra (``pip install crossspec[cuda]``) whose import fails without its
compiled extension; this module is the only place in crossspec that imports it.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch

from crossspec.ops.scan_inputs import ScanInputs


@functools.lru_cache(maxsize=1)
def _load() -> tuple[Callable | None, str]:
    """Return (mamba-ssm's selective_scan_fn or None, why it is unavailable)."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception as exc:  # any failure (ImportError, missing .so, CUDA mismatch) means "unavailable"
        return None, f"mamba-ssm cannot be imported ({type(exc).__name__}: {exc})"
    return selective_scan_fn, ""


def cuda_unavailable_reason() -> str:
    """Empty string when the CUDA backend can run here, else why not."""
    if not torch.cuda.is_available():
        return "no CUDA device is available"
    return _load()[1]


def scan_cuda(x: ScanInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Run mamba-ssm's kernel. Same contract as `crossspec.ops.scan_torch.scan_torch`.

    The kernel gives no gradient through last_state (mamba-ssm's documented behaviour).
    """
    fn, why = _load()
    if fn is None:
        raise RuntimeError(why)
    out, last_state = fn(x.u, x.delta, x.A, x.B, x.C, x.D, x.z, x.delta_bias, x.delta_softplus,
                         return_last_state=True)
    return out, last_state
