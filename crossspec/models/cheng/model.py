"""Deep Colorization (Cheng, Yang, Sheng, ICCV 2015) as a crossspec colorizer: the light baseline.

Kept from the paper:
- colorization as per-pixel regression: a fully connected network maps each pixel's feature
  vector to its chrominance, the U and V of YUV (loss term ``yuv_mse``), and the luminance of a
  gray input is kept as Y;
- a low-level feature made of the 7x7 patch of input values around the pixel;
- joint bilateral filtering of the predicted chroma guided by the input, to remove the noise of
  independent per-pixel predictions along the image's edges
  (:func:`crossspec.ops.joint_bilateral_filter`; ``sigma_space`` in pixels, ``sigma_range`` in
  input units).

Changed:
- the mid-level DAISY descriptor is a DAISY-like one built from fixed convolutions, and the
  high-level semantic feature (labels of a scene-parsing network) is replaced by pooled
  intensity histograms of the neighbourhood and of the whole image, plus a coarse 5x5 patch of
  the 4x downsampled input (:class:`~crossspec.models.cheng.features.PixelFeatures`, 162 values);
  the paper's adaptive image clustering (one network per cluster of reference images) is left out;
- the features are standardised by a BatchNorm without affine parameters (running statistics of
  the training set, as one standardises features for an MLP); the MLP is a stack of 1x1
  convolutions, so training runs on every pixel of each crop instead of sampled pixels;
- the filter runs at inference (``forward``) and not in training by default: ``forward_train``
  returns the unfiltered prediction, which is what the per-pixel loss should see, and skipping
  the filter keeps a step cheap (``bilateral_in_training=True`` puts it in both);
- **NIR input** (not visible luminance, ``luma_from_input=False``, the default): the network also
  predicts Y, as ``Y = gain * nir + offset`` with ``gain`` and ``offset`` two more outputs of the
  MLP (per pixel), trained by ``yuv_mse`` with U and V. With the output layer initialised to zero
  the untrained model is the ``nir-gray`` baseline (Y = NIR, no colour), which training then
  improves; the filter is guided by the NIR input and also smooths Y when ``bilateral_luma`` is set. **Gray input**
  (``luma_from_input=True``): Y is the input itself (the BT.601 luminance, exactly YUV's Y).

``forward``: ``(B, 1, H, W)`` in [0, 1] -> ``(B, 3, H, W)`` RGB in [0, 1], any ``H, W``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from crossspec.color import yuv_to_rgb
from crossspec.models.cheng.features import PixelFeatures
from crossspec.models.registry import register_model
from crossspec.ops.joint_bilateral import joint_bilateral_filter


class Cheng15(nn.Module):
    """Per-pixel features -> pixel-wise MLP -> YUV chroma -> joint bilateral filter.

    Args:
        hidden: widths of the MLP's hidden layers (ReLU between them).
        luma_from_input: gray input: Y is the input, only U, V are predicted. False (NIR): Y too.
        sigma_space: spatial sigma of the joint bilateral filter in pixels.
        sigma_range: range sigma of the filter, in input intensity units ([0, 1]).
        radius: window radius of the filter (``None``: ``ceil(2 * sigma_space)``).
        bilateral: apply the filter in ``forward`` (inference).
        bilateral_in_training: apply it in ``forward_train`` too.
        bilateral_luma: NIR only: filter the predicted Y as well as U, V.
    """

    size_multiple = 1

    def __init__(self, hidden: Sequence[int] = (64, 64, 64), luma_from_input: bool = False, sigma_space: float = 3.0,
                 sigma_range: float = 0.1, radius: int | None = None, bilateral: bool = True,
                 bilateral_in_training: bool = False, bilateral_luma: bool = False) -> None:
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list at least one positive width, got {hidden}")
        if not (sigma_space > 0 and sigma_range > 0):
            raise ValueError(f"sigma_space and sigma_range must be > 0, got {sigma_space} and {sigma_range}")
        self.luma_from_input = bool(luma_from_input)
        self.sigma_space, self.sigma_range = float(sigma_space), float(sigma_range)
        self.radius = None if radius is None else int(radius)
        self.bilateral, self.bilateral_in_training, self.bilateral_luma = bool(bilateral), bool(bilateral_in_training), bool(bilateral_luma)
        self.features = PixelFeatures()
        self.standardise = nn.BatchNorm2d(self.features.channels, affine=False)
        layers: list[nn.Module] = []
        cin = self.features.channels
        for width in hidden:
            layers += [nn.Conv2d(cin, width, 1), nn.ReLU(inplace=True)]
            cin = width
        out = 2 if self.luma_from_input else 4  # U, V (and the gain and offset of Y)
        self.mlp = nn.Sequential(*layers)
        self.head = nn.Conv2d(cin, out, 1)
        nn.init.zeros_(self.head.weight)  # start from no colour (U = V = 0) and, for NIR, Y = NIR
        nn.init.zeros_(self.head.bias)

    def _predict(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"Cheng15 expects (B, 1, H, W), got {tuple(x.shape)}")
        # float32 from here on even under bf16 autocast: the colour conversion needs 1/255 steps
        out = self.head(self.mlp(self.standardise(self.features(x)))).float()
        x = x.float()
        if self.luma_from_input:
            return {"uv": out}
        return {"y": (1.0 + out[:, 2:3]) * x + out[:, 3:4], "uv": out[:, :2]}

    def _compose(self, x: torch.Tensor, pred: dict[str, torch.Tensor], filtered: bool) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self._compose_fp32(x.float(), pred, filtered)

    def _compose_fp32(self, x: torch.Tensor, pred: dict[str, torch.Tensor], filtered: bool) -> torch.Tensor:
        y, uv = pred.get("y", x), pred["uv"]
        if filtered:
            def jbf(t: torch.Tensor) -> torch.Tensor:
                return joint_bilateral_filter(t, x, self.sigma_space, self.sigma_range, self.radius)

            if "y" in pred and self.bilateral_luma:
                y, uv = jbf(torch.cat([y, uv], dim=1)).split([1, 2], dim=1)
            else:
                uv = jbf(uv)
        return yuv_to_rgb(torch.cat([y, uv], dim=1)).clamp(0, 1)

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"rgb" (B,3,H,W) in [0,1], "uv" (B,2,H,W) unfiltered U, V, "y" (B,1,H,W) (NIR only; not
        clamped, about [0,1])}``."""
        pred = self._predict(x)
        return {**pred, "rgb": self._compose(x, pred, self.bilateral_in_training)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._compose(x, self._predict(x), self.bilateral)


@register_model(
    "cheng15",
    description="Deep Colorization (Cheng et al. 2015): fixed per-pixel features, pixel-wise MLP to YUV chroma "
                "(and Y for NIR), joint bilateral filtering",
    domains=("nir", "gray"),
    tiny={"hidden": (8,), "sigma_space": 1.0, "radius": 1},
    size_multiple=1,
)
def cheng15(**kwargs) -> Cheng15:
    return Cheng15(**kwargs)
