"""Kernels with interchangeable backends. `selective_scan` is the hot path of every Mamba block."""
from crossspec.ops.scan import (
    available_backends,
    resolve_backend,
    selective_scan,
    selective_scan_reference,
)

__all__ = ["available_backends", "resolve_backend", "selective_scan", "selective_scan_reference"]
