"""ColorMamba model family: ``colormamba`` (paper size), ``colormamba-small`` (CPU-trainable) and
``colormamba-small-vgg16`` (its RGB branch on an ImageNet VGG16 encoder)."""
from crossspec.models.colormamba.model import (TINY, TINY_VGG16, ColorMamba, build_colormamba, build_colormamba_small,
                                               build_colormamba_small_vgg16)
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

register_model(
    "colormamba-small-vgg16",
    description="ColorMamba-small whose RGB branch encodes with a frozen ImageNet VGG16 (relu2_2 .. relu5_3 "
                "at 1/2 .. 1/16; load with model.encoder_weights)",
    domains=("nir", "gray"),
    tiny=TINY_VGG16,
    takes_domain=True,
)(build_colormamba_small_vgg16)

__all__ = ["ColorMamba", "build_colormamba", "build_colormamba_small", "build_colormamba_small_vgg16"]
