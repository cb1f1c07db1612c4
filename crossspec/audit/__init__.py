"""Leakage audit: which test images are copies or crops of training images (``crossspec data audit``).

``sources`` turns a SOURCE string into image files, ``ncc`` is the masked normalized
cross-correlation over all offsets, ``align`` the full-resolution refinement and PSNR, ``search``
runs the audit and ``report`` prints and saves it.
"""
from crossspec.audit.search import Audit, Params, run_audit
from crossspec.audit.sources import parse_source

__all__ = ["Audit", "Params", "parse_source", "run_audit"]
