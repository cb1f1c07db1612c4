"""The selective scan of Mamba blocks: one contract, several backends.

Backends:
    "cuda"  mamba-ssm's fused kernel (optional extra; tensors on a GPU).
    "torch" portable pure-PyTorch chunked scan (`crossspec.ops.scan_torch`), any device.
    "ref"   the sequential reference (`crossspec.ops.scan_reference`), for checking only.

Choice: the ``backend`` argument, else the environment variable ``CROSSSPEC_SCAN_BACKEND``, else
"cuda" when available and the inputs are on a GPU, else "torch". ``"auto"`` means the automatic
choice wherever a name is accepted.
"""
from __future__ import annotations

import logging
import os

import torch

from crossspec.errors import ConfigError
from crossspec.ops.scan_cuda import cuda_unavailable_reason, scan_cuda
from crossspec.ops.scan_reference import scan_reference
from crossspec.ops.scan_torch import scan_torch
from crossspec.ops.scan_inputs import check_scan_inputs

ENV_VAR = "CROSSSPEC_SCAN_BACKEND"
BACKENDS = ("cuda", "torch", "ref")
_IMPLEMENTATIONS = {"cuda": scan_cuda, "torch": scan_torch, "ref": scan_reference}

logger = logging.getLogger("crossspec")
_logged: set[tuple[str, str]] = set()


def available_backends() -> list[str]:
    """Backends that can run in this environment, fastest first ("cuda" only with mamba-ssm and a GPU)."""
    return [name for name in BACKENDS if name != "cuda" or not cuda_unavailable_reason()]


def resolve_backend(backend: str | None = None, device: torch.device | str | None = None) -> str:
    """Name of the backend that `selective_scan` uses for tensors on ``device``.

    Args:
        backend: "cuda", "torch", "ref", "auto" or None (None: ``$CROSSSPEC_SCAN_BACKEND``, then auto).
        device: where the inputs live (default CPU).

    Raises:
        ConfigError: unknown name, or "cuda" asked for where it cannot run.
    """
    source = "backend argument"
    if backend is None:
        backend = os.environ.get(ENV_VAR) or None
        source = f"${ENV_VAR}"
    device = torch.device(device if device is not None else "cpu")
    name = (backend or "auto").strip().lower()
    if name == "auto":
        return "cuda" if device.type == "cuda" and not cuda_unavailable_reason() else "torch"
    if name not in BACKENDS:
        raise ConfigError(f"{source}: unknown selective-scan backend {backend!r}; "
                          f"choose one of {', '.join(BACKENDS)} or auto")
    if name == "cuda":
        why = cuda_unavailable_reason()
        if why:
            raise ConfigError(f"{source}: selective-scan backend 'cuda' is unavailable: {why}; "
                              "install the extra with `pip install crossspec[cuda]` on a CUDA machine, "
                              "or use backend 'torch'")
        if device.type != "cuda":
            raise ConfigError(f"{source}: selective-scan backend 'cuda' needs tensors on a GPU, "
                              f"got tensors on {device}")
    return name


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, backend=None):
    """Mamba's selective scan with mamba-ssm's ``selective_scan_fn`` signature and semantics.

    For each channel d and time t (B, C taken from the group of channel d)::

        delta = softplus(delta + delta_bias) if delta_softplus else delta + delta_bias
        h_t   = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t        (h_{-1} = 0)
        y_t   = <C_t, h_t> + D * u_t;   out = y * silu(z)

    Args:
        u, delta: (batch, d_inner, L) real floats; delta is a step size (any real before softplus).
        A: (d_inner, d_state), normally negative (A = -exp(A_log)) so the state decays.
        B, C: (batch, groups, d_state, L) with d_inner divisible by groups, or (batch, d_state, L).
        D: (d_inner,) skip gain; z: (batch, d_inner, L) gate; delta_bias: (d_inner,). All optional.
        delta_softplus: apply softplus to delta (after the bias).
        return_last_state: also return h_{L-1}.
        backend: "cuda", "torch", "ref", "auto" or None (see `resolve_backend`).

    Returns:
        out (batch, d_inner, L) in u's dtype, or ``(out, last_state)`` with last_state
        (batch, d_inner, d_state) in the compute dtype: float32 (float64 when any input is float64;
        fp16/bf16 inputs are computed in float32). Differentiable in every tensor input.

    Raises:
        CrossspecError: bad shapes/dtypes/devices (naming the argument), or a backend that
        cannot run (`ConfigError`).
    """
    x = check_scan_inputs(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    name = resolve_backend(backend, u.device)
    key = (name, u.device.type)
    if key not in _logged:
        _logged.add(key)
        logger.info("selective scan: using the %r backend for %s tensors", name, u.device.type)
    out, last_state = _IMPLEMENTATIONS[name](x)
    return (out, last_state) if return_last_state else out


def selective_scan_reference(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                             return_last_state=False):
    """The sequential reference (slow; float64-capable): same arguments and results as `selective_scan`."""
    return selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, backend="ref")


__all__ = ["BACKENDS", "ENV_VAR", "available_backends", "resolve_backend", "selective_scan",
           "selective_scan_reference"]
