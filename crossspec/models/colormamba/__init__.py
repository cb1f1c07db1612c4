"""ColorMamba model family: ``colormamba`` (paper size) and ``colormamba-small`` (CPU-trainable)."""
from crossspec.models.colormamba.model import ColorMamba, build_colormamba, build_colormamba_small, TINY
from crossspec.models.registry import register_model

register_model(
    "colormamba",
    description="ColorMamba NIR->RGB (HSV-guided dual-branch U-Net with VSS blocks), paper size (95.5 M params; the paper reports 100.2 M)",
    domains=("nir", "gray"),
    tiny=TINY,
    takes_domain=True,
)(build_colormamba)

register_model(
    "colormamba-small",
    description="ColorMamba, narrow and shallow enough to train on a CPU",
    domains=("nir", "gray"),
    tiny=TINY,
    takes_domain=True,
)(build_colormamba_small)

__all__ = ["ColorMamba", "build_colormamba", "build_colormamba_small"]
