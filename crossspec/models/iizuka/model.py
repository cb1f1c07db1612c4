"""Let there be Color! (Iizuka, Simo-Serra, Ishikawa, SIGGRAPH 2016) as a crossspec colorizer.

Kept from the paper:
- the four networks and how they meet: one low-level feature network whose weights serve both the
  full-resolution path and the global path; the global path sees the input resized to a fixed
  ``global_size`` (224 in the paper) and ends in fully connected layers giving one global vector;
  the fusion layer broadcasts that vector over every position of the mid-level features and mixes
  both with a 1x1 conv; the colorization network climbs back (nearest-neighbour x2 twice, then the
  output is upsampled x2 to the input grid);
- layer counts, strides and width ratios (:mod:`crossspec.models.iizuka.networks`; ``width=64``
  gives the paper's channel counts);
- chrominance output in CIE L*a*b*: a sigmoid predicts a*, b* scaled to [0, 1]
  (:func:`crossspec.color.lab_to_unit`), trained with the MSE on those channels (loss term
  ``lab_mse``);
- the optional scene classifier on the global features (``num_classes``), trained with
  cross-entropy weighted ``alpha = 1/300`` relative to the colour MSE (loss term ``scene_ce``,
  labels from the dataset, e.g. VCIP's four categories).

Changed:
- GroupNorm instead of BatchNorm (as the project's other networks: outputs do not depend on the
  batch, batch size 1 works);
- ``width`` scales every layer; the CPU default (16) is a quarter of the paper's;
- Adam through the crossspec trainer instead of ADADELTA;
- **gray input** (BT.601 luminance ``Y`` of the true RGB): the lightness is taken from the input,
  as in the paper, as the L* of the neutral colour ``(Y, Y, Y)``. Because BT.601 luma is not
  CIE lightness, the RGB of ``(L*, a*, b*)`` is then shifted equally in R, G and B so that its
  BT.601 luma is exactly the input (``luma_from_input=True``; the chroma differences stay the
  network's);
- **NIR input** (not visible luminance; ``luma_from_input=False``, the default): the network also
  predicts the lightness, as a local affine map of the NIR input, ``L*/100 = gain * nir + offset``,
  with ``gain`` and ``offset`` two more output channels of the colorization network (at half
  resolution, upsampled like the chroma). Regressing L* directly from the 1/8-resolution fused
  features gave a blurred image (a first run: 14.1 dB on train-val against 15.3 dB for the NIR
  copied to gray); the affine map keeps the input's full-resolution detail and lets the network
  set the tone region by region (vegetation is bright in NIR and dark in the visible: the gain may
  be negative). The loss ``lab_mse`` covers L* too.

``forward``: ``(B, 1, H, W)`` in [0, 1] -> ``(B, 3, H, W)`` RGB in [0, 1], any ``H, W`` (reflect
padding to a multiple of 8, cropped back). The global path always sees the whole (padded) input
resized to ``global_size``, so a tile of a large image is colored with that tile's global context.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.color import gray_lightness, lab_to_rgb, unit_to_lab, with_luminance
from crossspec.models.iizuka.networks import Classifier, Colorization, Fusion, GlobalFeatures, LowLevel, MidLevel
from crossspec.models.padding import pad_to_multiple
from crossspec.models.registry import register_model


class Iizuka16(nn.Module):
    """Global-and-local colorization network with fusion layer.

    Args:
        width: base width (the paper's is 64); every layer's width is a multiple of it.
        global_size: side of the square image the global network sees (224 in the paper); a
            multiple of 32.
        luma_from_input: gray input: predict only a*b* and keep the input as luminance. False (NIR):
            predict L* as well.
        num_classes: scene classes of the classification head; 0 leaves it out.
    """

    size_multiple = 8

    def __init__(self, width: int = 16, global_size: int = 224, luma_from_input: bool = False,
                 num_classes: int = 0) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.global_size = int(global_size)
        self.luma_from_input = bool(luma_from_input)
        self.num_classes = int(num_classes)
        self.low = LowLevel(width)
        self.mid = MidLevel(width)
        self.glob = GlobalFeatures(width, self.global_size)
        self.fusion = Fusion(self.mid.out_channels, self.glob.out_channels)
        # a*, b* (and for NIR the gain and offset of the lightness map)
        self.color = Colorization(width, 2 if self.luma_from_input else 4)
        # Start from no colour (a* = b* = 0) and, for NIR, L*/100 = NIR: the untrained model is the
        # gray baseline, not random colours (not in the paper; it only changes the first steps).
        nn.init.zeros_(self.color.body[-1].weight)
        nn.init.zeros_(self.color.body[-1].bias)
        self.classifier = Classifier(width, self.num_classes) if self.num_classes else None

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"rgb" (B,3,H,W) in [0,1], "ab" (B,2,H,W) unit-scaled a*b* in [0,1], "L"
        (B,1,H,W) L*/100 (NIR only; not clamped, about [0,1]), "scene_logits" (B,K) (with a
        classifier)}``."""
        return self._run(x, classify=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, classify=False)["rgb"]

    def _run(self, x: torch.Tensor, classify: bool) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"Iizuka16 expects (B, 1, H, W), got {tuple(x.shape)}")
        xp, (h, w) = pad_to_multiple(x, self.size_multiple)
        local = self.mid(self.low(xp))
        small = F.interpolate(xp, size=(self.global_size, self.global_size), mode="bilinear", align_corners=False,
                              antialias=xp.shape[-1] > self.global_size or xp.shape[-2] > self.global_size)
        glob, class_in = self.glob(self.low(small))
        out = self.color(self.fusion(local, glob))
        # colour conversions in float32 even under bf16 autocast (1/255 steps need more than bf16's 8 bits)
        out = F.interpolate(out.float(), size=xp.shape[-2:], mode="bilinear", align_corners=False)[..., :h, :w]
        x = x.float()
        with torch.autocast(x.device.type, enabled=False):
            result = self._compose(x, out)
        if classify and self.classifier is not None:
            result["scene_logits"] = self.classifier(class_in)
        return result

    def _compose(self, x: torch.Tensor, out: torch.Tensor) -> dict[str, torch.Tensor]:
        result: dict[str, torch.Tensor] = {}
        ab = torch.sigmoid(out[:, :2])
        if self.luma_from_input:
            lightness = gray_lightness(x) / 100.0
        else:
            gain, offset = 1.0 + out[:, 2:3], out[:, 3:4]
            lightness = gain * x + offset
            result["L"] = lightness
        result["ab"] = ab
        rgb = lab_to_rgb(unit_to_lab(torch.cat([lightness.clamp(0, 1), ab], dim=1)))
        if self.luma_from_input:
            rgb = with_luminance(rgb, x)
        result["rgb"] = rgb
        return result


@register_model(
    "iizuka16",
    description="Let there be Color! (Iizuka et al. 2016): local and global features with a fusion layer, Lab "
                "chroma (and L for NIR), optional scene classifier",
    domains=("nir", "gray"),
    tiny={"width": 2, "global_size": 32, "num_classes": 4},
    size_multiple=8,
)
def iizuka16(**kwargs) -> Iizuka16:
    return Iizuka16(**kwargs)
