"""Frozen-feature reconstruction loss R, as in ColorMamba's released training code.

R(pred, target) = alpha * MSE(f(pred), f(target)) + gamma * (1 - mean cosine(f(pred), f(target)))
                  + beta * (1 - MS-SSIM(pred, target))
where f is the encoder half of a small 6-band convolutional autoencoder (trained for
spatio-temporal fusion by GAN-STFM, reused frozen by ColorMamba). 3-channel images are fed to it
as two stacked copies, as the released code does.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.errors import file_error

_CHANNELS = (16, 32, 64, 128)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    # replication padding then an unpadded conv: index 1 holds the weights (state-dict key "...1.weight")
    return nn.Sequential(nn.ReplicationPad2d(1), nn.Conv2d(cin, cout, 3, stride=stride))


class _Upsample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest")


class FeatureAutoencoder(nn.Module):
    """The 6-band autoencoder whose state dict ships as ``autoencoder.pth``.

    Layer names match that file exactly (``conv1.0.1.weight`` ... ``conv8.bias``) so it loads
    strictly. :meth:`encode`: ``(B, 6, H, W)`` -> ``(B, 128, ceil(H/8), ceil(W/8))``.
    """

    def __init__(self, bands: int = 6) -> None:
        super().__init__()
        c = _CHANNELS
        act = lambda: nn.LeakyReLU(0.01)  # noqa: E731
        self.conv1 = nn.Sequential(_conv3x3(bands, c[0]), act())
        self.conv2 = nn.Sequential(_conv3x3(c[0], c[1], 2), act())
        self.conv3 = nn.Sequential(_conv3x3(c[1], c[2], 2), act())
        self.conv4 = nn.Sequential(_conv3x3(c[2], c[3], 2), act())
        self.conv5 = nn.Sequential(_Upsample(), _conv3x3(c[3], c[2]), act())
        self.conv6 = nn.Sequential(_Upsample(), _conv3x3(2 * c[2], c[1]), act())
        self.conv7 = nn.Sequential(_Upsample(), _conv3x3(2 * c[1], c[0]), act())
        self.conv8 = nn.Conv2d(2 * c[0], bands, 1)
        self.bands = bands

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv4(self.conv3(self.conv2(self.conv1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l1 = self.conv1(x)
        l2 = self.conv2(l1)
        l3 = self.conv3(l2)
        l5 = self.conv5(self.conv4(l3))
        l6 = self.conv6(torch.cat([l3, l5], 1))
        l7 = self.conv7(torch.cat([l2, l6], 1))
        return self.conv8(torch.cat([l1, l7], 1))


def load_feature_network(source: str | os.PathLike | None = "none") -> FeatureAutoencoder:
    """Build the frozen feature network.

    ``source``: ``"none"`` / ``"random"`` / ``None`` -> random initialization (tests, ablations);
    otherwise a path to ``autoencoder.pth`` (a dict with ``state_dict``, or a bare state dict),
    loaded strictly with ``torch.load(weights_only=True)`` on CPU. Raises :class:`DataError` naming
    the file when it is missing, unreadable or does not match the architecture.
    """
    net = FeatureAutoencoder()
    if source is None or (isinstance(source, str) and source.lower() in {"none", "random"}):
        return _freeze(net)
    path = Path(source)
    if not path.is_file():
        raise file_error(path, "feature-network weights not found (ColorMamba's autoencoder.pth; "
                               "use 'none' for a randomly initialised network)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise file_error(path, f"cannot read weights: {exc}") from exc
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise file_error(path, "expected a state dict or a dict with a 'state_dict' entry")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise file_error(path, f"weights do not match the 6-band autoencoder: {' '.join(first[:2])}") from exc
    return _freeze(net)


def _freeze(net: FeatureAutoencoder) -> FeatureAutoencoder:
    net.eval()
    net.requires_grad_(False)
    return net


class FeatureLoss(nn.Module):
    """R(pred, target) for ``(B, C, H, W)`` images in [0, 1] with ``C`` dividing 6 (1, 2, 3 or 6).

    ``msssim_weight`` (beta) needs images big enough for MS-SSIM's five scales; set it to 0 for
    small crops. Returns a scalar.
    """

    def __init__(self, network: nn.Module | str | os.PathLike | None = "none", mse_weight: float = 1.0,
                 cosine_weight: float = 1.0, msssim_weight: float = 1.0) -> None:
        super().__init__()
        self.network = network if isinstance(network, nn.Module) else load_feature_network(network)
        _freeze(self.network)  # type: ignore[arg-type]
        self.mse_weight = mse_weight
        self.cosine_weight = cosine_weight
        self.msssim_weight = msssim_weight

    def train(self, mode: bool = True) -> "FeatureLoss":
        super().train(mode)
        self.network.eval()  # frozen: never leaves eval mode
        return self

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        bands = self.network.bands
        if bands % x.shape[1]:
            raise ValueError(f"feature loss: {x.shape[1]}-channel images cannot fill {bands} bands")
        return self.network.encode(x.repeat(1, bands // x.shape[1], 1, 1))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fp, ft = self._features(pred), self._features(target)
        loss = self.mse_weight * F.mse_loss(fp, ft)
        loss = loss + self.cosine_weight * (1.0 - F.cosine_similarity(fp, ft, dim=1).mean())
        if self.msssim_weight:
            from crossspec.losses.ssim_loss import msssim_loss

            loss = loss + self.msssim_weight * msssim_loss(pred, target)
        return loss
