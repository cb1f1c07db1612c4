"""torchvision's VGG16 ``features`` layers and the ImageNet input statistics, shared by the VGG16
encoder (:mod:`crossspec.models.encoders.vgg`) and the perceptual loss (:mod:`crossspec.losses.perceptual`).

The layers sit at torchvision's indices, so an ImageNet state dict (``features.N.*``, prefix
stripped) loads into them strictly. No weights are read here.
"""
from __future__ import annotations

import torch.nn as nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's vgg16 "D" configuration: channel counts, "M" = 2x2 max-pooling.
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def vgg16_features() -> tuple[nn.Sequential, list[int]]:
    """``(features, cuts)``: torchvision's ``vgg16().features`` with random weights, and for each of
    the five stages the index just past its last ReLU (where the next max-pooling sits)."""
    layers: list[nn.Module] = []
    cuts: list[int] = []
    cin = 3
    for v in VGG16_CFG:
        if v == "M":
            cuts.append(len(layers))
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    cuts.append(len(layers))
    return nn.Sequential(*layers), cuts
