"""DDColor-style colorizer, small enough for CPU training (Kang et al., "DDColor: Towards
Photo-Realistic Image Colorization via Dual Decoders", ICCV 2023).

Pipeline, ``(B, 1, H, W)`` in [0, 1] -> ``(B, 3, H, W)`` RGB in [0, 1]:

1. **Encoder**: the ImageNet :class:`~crossspec.models.encoders.VGG16Trunk` (frozen by default;
   the trainer loads its weights through :meth:`DDColorSmall.load_encoder`), ``stages`` stages,
   the deepest at stride ``2**(stages-1)``.
2. **Pixel decoder** (:mod:`.pixel_decoder`): a U-Net path back to full resolution; its levels,
   coarsest first, are the deepest stage and one map per upsampling step.
3. **Colour decoder** (:mod:`.color_decoder`): ``num_queries`` learnable colour queries refined by
   ``layers`` transformer blocks (cross-attention to one scale, self-attention, FFN) that cycle
   through the ``scales`` coarsest pixel-decoder levels (each projected to ``dim`` channels by a
   1x1 convolution), as DDColor cycles through its 1/32, 1/16 and 1/8 maps.
4. **Fusion**: the full-resolution pixel-decoder map, projected to ``dim`` channels, is the pixel
   embedding ``E (B, C, H, W)``; the colour embedding is ``Q E / sqrt(C)`` ``(B, N, H, W)`` (one map
   per query), and a 1x1 convolution turns it into a and b of CIE Lab, ``ab_range * tanh(.)``.
5. **Lightness** (``lightness``):

   - ``"predict"`` (NIR, whose brightness is not visible lightness): a 3x3 convolution on the
     full-resolution pixel-decoder map (which holds the input itself) predicts a correction ``r``
     of the input's own lightness ``L_in`` (the Lab L of the input read as a gray image) in logit
     space, ``L = 100 sigmoid(logit(L_in / 100) + r)``. ``r`` starts at 0 (zero-initialised
     convolution), so an untrained model outputs the input as gray, the ``nir-gray`` baseline,
     instead of a flat L = 50;
   - ``"input"`` (gray input = BT.601 luminance of the true colours): ``L`` is the Lab lightness of
     the gray image, so only ab is predicted; after Lab -> RGB the three channels are shifted
     equally so that the output's BT.601 luminance equals the input exactly (Lab's L weights
     linear light, BT.601 gamma-encoded values: the two differ slightly), then clamped to [0, 1].

   Lab -> RGB (kornia, clipped to [0, 1]) runs in float32 outside autocast.

Kept from the paper: the dual decoders; learnable queries with learned positional embeddings;
cross-attention -> self-attention -> FFN blocks with post-norm, sine positions and a learned
scale embedding on the image tokens; the round-robin over three scales; the dot-product fusion and
1x1 convolution to ab; Lab output with L carried through for gray input; the colourfulness loss
(``loss.weights.colorfulness``, :mod:`crossspec.losses.colorfulness`).

Changed, for a CPU budget and NIR input: a frozen VGG16 trunk instead of ConvNeXt-L (ImageNet
weights the project already loads), so the scales are 1/16, 1/8, 1/4 (DDColor: 1/32, 1/16, 1/8);
bilinear + convolution upsampling instead of PixelShuffle blocks; ``dim`` 64 instead of 256,
fewer queries and blocks by default; the colour embedding scaled by ``1/sqrt(C)`` and ab bounded
by tanh so training starts near gray rather than saturated; lightness predicted for NIR, as a
correction of the input's; no GAN
or perceptual loss in the configs (the engine's optional PatchGAN can be switched on).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from crossspec.color import gray_to_rgb, lab_to_rgb, rgb_to_lab, with_luminance
from crossspec.models.ddcolor.color_decoder import ColorDecoder
from crossspec.models.ddcolor.pixel_decoder import PixelDecoder
from crossspec.models.encoders import VGG16Trunk
from crossspec.models.padding import pad_to_multiple
from crossspec.models.registry import register_model

LIGHTNESS = ("predict", "input")
# keeps logit(L_in / 100) finite for black and white input pixels (|logit| <= 9.2)
_LOGIT_EPS = 1e-4


class DDColorSmall(nn.Module):
    """DDColor-style colorizer on a VGG16 trunk (see the module docstring).

    Args:
        stages: VGG16 stages used (``scales``..5).
        frozen_stages: encoder stages kept frozen (``stages`` = the whole trunk).
        widths: pixel-decoder widths from the second-deepest level to full resolution
            (``stages - 1`` entries).
        num_queries: colour queries ``N``.
        dim: query / token width ``C`` (divisible by ``heads`` and by 4).
        layers: colour-decoder blocks (a multiple of ``scales`` visits each scale equally).
        heads, ffn_dim, dropout: of each block (``ffn_dim`` default ``2 * dim``).
        scales: pixel-decoder levels the queries attend to, coarsest first.
        lightness: ``"predict"`` (NIR) or ``"input"`` (gray input; see the module docstring).
        ab_range: bound of the predicted a and b.

    ``forward``: ``(B, 1, H, W)`` in [0, 1] -> ``(B, 3, H, W)`` in [0, 1], any ``H, W`` (reflect
    padding to a multiple of ``2**(stages-1)``, cropped back).
    """

    def __init__(self, stages: int = 5, frozen_stages: int = 5,
                 widths: tuple[int, ...] | list[int] = (256, 96, 32, 16), num_queries: int = 32, dim: int = 64,
                 layers: int = 6, heads: int = 4, ffn_dim: int | None = None, dropout: float = 0.0,
                 scales: int = 3, lightness: str = "predict", ab_range: float = 110.0) -> None:
        super().__init__()
        if lightness not in LIGHTNESS:
            raise ValueError(f"lightness must be one of {', '.join(LIGHTNESS)}, got {lightness!r}")
        if not 1 <= scales <= stages:
            raise ValueError(f"scales must be in 1..stages ({stages}), got {scales}")
        widths = tuple(int(w) for w in widths)
        self.encoder = VGG16Trunk(stages=stages, frozen_stages=frozen_stages)
        self.pixel_decoder = PixelDecoder(self.encoder.channels, widths, extra=1)
        levels = self.pixel_decoder.widths
        self.scales = scales
        self.proj = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in levels[:scales])
        self.color_decoder = ColorDecoder(dim, num_queries, layers, scales, heads, ffn_dim, dropout)
        self.embed = nn.Conv2d(levels[-1], dim, 1)
        self.to_ab = nn.Conv2d(num_queries, 2, 1)
        # start near gray: a small ab head keeps tanh far from saturation on the first steps
        nn.init.normal_(self.to_ab.weight, std=0.01)
        nn.init.zeros_(self.to_ab.bias)
        self.to_l = None
        if lightness == "predict":
            self.to_l = nn.Conv2d(levels[-1], 1, 3, padding=1)
            nn.init.zeros_(self.to_l.weight)  # start from the input's own lightness
            nn.init.zeros_(self.to_l.bias)
        self.lightness, self.ab_range = lightness, float(ab_range)
        self.size_multiple = 2 ** (stages - 1)

    def load_encoder(self, features_state: dict[str, torch.Tensor]) -> None:
        """Load ImageNet VGG16 ``features.*`` tensors (prefix stripped) into the encoder."""
        self.encoder.load_imagenet(features_state)

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"rgb": (B,3,H,W) in [0,1], "lab": (B,3,H,W) (L in [0,100], a/b in +-ab_range),
        "color_embedding": (B,N,H,W)}``, all cropped to the input's size."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"DDColorSmall expects (B, 1, H, W), got {tuple(x.shape)}")
        x, (h, w) = pad_to_multiple(x, self.size_multiple)
        levels = self.pixel_decoder(self.encoder(x), x)
        queries = self.color_decoder([p(f) for p, f in zip(self.proj, levels[: self.scales])])  # (B, N, C)
        pixels = self.embed(levels[-1])  # (B, C, H, W)
        color = torch.einsum("bnc,bchw->bnhw", queries, pixels) / math.sqrt(pixels.shape[1])
        ab = self.ab_range * torch.tanh(self.to_ab(color))
        correction = None if self.to_l is None else self.to_l(levels[-1])
        with torch.autocast(device_type=x.device.type, enabled=False):
            ab, xf = ab.float(), x.float()
            light = rgb_to_lab(gray_to_rgb(xf))[:, :1]
            if correction is not None:
                prior = torch.logit(light / 100.0, eps=_LOGIT_EPS)
                light = 100.0 * torch.sigmoid(prior + correction.float())
            lab = torch.cat([light, ab], dim=1)
            rgb = lab_to_rgb(lab)
            if self.to_l is None:
                rgb = with_luminance(rgb, xf)
        return {"rgb": rgb[..., :h, :w], "lab": lab[..., :h, :w], "color_embedding": color[..., :h, :w]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_train(x)["rgb"]


@register_model(
    "ddcolor-small",
    description="DDColor-style colour-query transformer decoder on a frozen ImageNet VGG16 encoder "
                "(load with model.encoder_weights); Lab output, L predicted (nir) or from the input (gray)",
    domains=("nir", "gray"),
    tiny={"stages": 3, "frozen_stages": 3, "widths": (8, 8), "num_queries": 4, "dim": 8, "layers": 3, "heads": 2},
)
def ddcolor_small(**kwargs) -> DDColorSmall:
    return DDColorSmall(**kwargs)
