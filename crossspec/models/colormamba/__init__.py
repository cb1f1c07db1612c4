"""ColorMamba model family: ``colormamba`` (paper size) and ``colormamba-small`` (CPU-trainable)."""
from crossspec.models.colormamba.model import ColorMamba, build_colormamba, build_colormamba_small, TINY
from crossspec.models.registry import register_model

register_model(
    "colormamba",
    description="ColorMamba NIR->RGB (HSV-guided dual-branch U-Net with VSS blocks), paper size, ~100 M params",
    domains=("nir",),
    tiny=TINY,
)(build_colormamba)

register_model(
    "colormamba-small",
    description="ColorMamba, narrow and shallow enough to train on a CPU",
    domains=("nir",),
    tiny=TINY,
)(build_colormamba_small)

__all__ = ["ColorMamba", "build_colormamba", "build_colormamba_small"]

# The PatchGAN discriminators ColorMamba trains against; imported here so the registry has them.
from crossspec.models import patchgan  # noqa: E402,F401
