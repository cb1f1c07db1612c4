"""Losses for training colorizers: pixel, structural, HSV, frozen-feature, luma/chroma, scene class,
adversarial, composite."""
from crossspec.losses.adversarial import lsgan_discriminator_loss, lsgan_generator_loss
from crossspec.losses.chroma import lab_mse_loss, yuv_mse_loss
from crossspec.losses.colorfulness import colorfulness_loss
from crossspec.losses.composite import COLORMAMBA_RECIPE, TERMS, ColorizationLoss
from crossspec.losses.feature import FeatureAutoencoder, FeatureLoss, load_feature_network
from crossspec.losses.hsv import hsv_loss, hue_distance
from crossspec.losses.pixel import charbonnier_loss, l1_loss, mse_loss, psnr_loss
from crossspec.losses.scene import scene_ce_loss
from crossspec.losses.ssim_loss import msssim_loss, ssim_loss

__all__ = [
    "COLORMAMBA_RECIPE", "TERMS", "ColorizationLoss", "FeatureAutoencoder", "FeatureLoss",
    "charbonnier_loss", "colorfulness_loss", "hsv_loss", "hue_distance", "l1_loss", "lab_mse_loss",
    "load_feature_network", "lsgan_discriminator_loss", "lsgan_generator_loss", "msssim_loss", "mse_loss",
    "psnr_loss", "scene_ce_loss", "ssim_loss", "yuv_mse_loss",
]
