"""Convolutional trunks that colorizers use as encoders, in torchvision's layout so ImageNet
weights load unchanged (``crossspec.io.imagenet_weights`` finds and reads the files)."""
from crossspec.models.encoders.vgg import IMAGENET_MEAN, IMAGENET_STD, VGG16Trunk

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "VGG16Trunk"]
