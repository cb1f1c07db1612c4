"""Kernels with interchangeable backends (`selective_scan`, the hot path of every Mamba block) and
image filters (`joint_bilateral_filter`, `guided_upsample`)."""
from crossspec.ops.guided_upsample import guided_upsample
from crossspec.ops.joint_bilateral import joint_bilateral_filter
from crossspec.ops.scan import (
    available_backends,
    resolve_backend,
    selective_scan,
    selective_scan_reference,
)

__all__ = ["available_backends", "guided_upsample", "joint_bilateral_filter", "resolve_backend", "selective_scan", "selective_scan_reference"]
