"""Shape, dtype and device checks for the selective scan, shared by every backend."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from crossspec.errors import CrossspecError


@dataclass(frozen=True)
class ScanInputs:
    """Checked selective-scan inputs. B and C are always (batch, groups, d_state, L)."""

    u: torch.Tensor
    delta: torch.Tensor
    A: torch.Tensor
    B: torch.Tensor
    C: torch.Tensor
    D: torch.Tensor | None
    z: torch.Tensor | None
    delta_bias: torch.Tensor | None
    delta_softplus: bool

    @property
    def compute_dtype(self) -> torch.dtype:
        """float64 when any input is float64 (so the scan can be checked exactly), else float32.

        Half-precision inputs are computed in float32, like mamba-ssm: the recurrence multiplies
        thousands of decays and would lose all precision in bf16.
        """
        tensors = [t for t in (self.u, self.delta, self.A, self.B, self.C, self.D, self.z, self.delta_bias)
                   if t is not None]
        return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32

    def effective_delta(self, dtype: torch.dtype) -> torch.Tensor:
        """delta + delta_bias, through softplus when asked: the step sizes the recurrence uses."""
        delta = self.delta.to(dtype)
        if self.delta_bias is not None:
            delta = delta + self.delta_bias.to(dtype)[:, None]
        return F.softplus(delta) if self.delta_softplus else delta


def _err(name: str, problem: str) -> CrossspecError:
    return CrossspecError(f"selective_scan {name}: {problem}")


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_scan_inputs(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False) -> ScanInputs:
    """Validate the arguments of `crossspec.ops.selective_scan` and normalise B/C to 4-D.

    Raises:
        CrossspecError: naming the argument, what was expected and what came.
    """
    named = {"u": u, "delta": delta, "A": A, "B": B, "C": C, "D": D, "z": z, "delta_bias": delta_bias}
    for name, t in named.items():
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise _err(name, f"expected a torch.Tensor, got {type(t).__name__}")
        if t.is_complex():
            raise _err(name, "complex tensors are not supported (only real-valued A, B, C)")
        if not t.is_floating_point():
            raise _err(name, f"expected a floating-point tensor, got dtype {t.dtype}")
        if t.device != u.device:
            raise _err(name, f"is on {t.device} but u is on {u.device}; put all inputs on one device")

    if u.dim() != 3:
        raise _err("u", f"expected shape (batch, d_inner, L), got {_shape(u)}")
    batch, d_inner, length = u.shape
    if length == 0:
        raise _err("u", "sequence length L is 0")
    if delta.shape != u.shape:
        raise _err("delta", f"expected the shape of u {_shape(u)}, got {_shape(delta)}")
    if A.dim() != 2 or A.shape[0] != d_inner:
        raise _err("A", f"expected shape (d_inner={d_inner}, d_state), got {_shape(A)}")
    d_state = A.shape[1]

    def as_4d(name: str, t: torch.Tensor) -> torch.Tensor:
        expected = f"(batch={batch}, groups, d_state={d_state}, L={length}) or (batch, d_state, L)"
        given = _shape(t)
        if t.dim() == 3:
            t = t.unsqueeze(1)
        if t.dim() != 4 or t.shape[0] != batch or t.shape[2] != d_state or t.shape[3] != length:
            raise _err(name, f"expected shape {expected}, got {given}")
        groups = t.shape[1]
        if groups == 0 or d_inner % groups:
            raise _err(name, f"d_inner={d_inner} is not divisible by groups={groups} (shape {_shape(t)})")
        return t

    B4, C4 = as_4d("B", B), as_4d("C", C)
    for name, t in (("D", D), ("delta_bias", delta_bias)):
        if t is not None and t.shape != (d_inner,):
            raise _err(name, f"expected shape (d_inner={d_inner},), got {_shape(t)}")
    if z is not None and z.shape != u.shape:
        raise _err("z", f"expected the shape of u {_shape(u)}, got {_shape(z)}")
    return ScanInputs(u, delta, A, B4, C4, D, z, delta_bias, bool(delta_softplus))
