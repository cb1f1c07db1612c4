"""User-guided colorization (Zhang, Zhu, Isola, Geng, Lin, Yu, Efros, "Real-Time User-Guided Image
Colorization with Learned Deep Priors", SIGGRAPH 2017), the local-hints network, sized for a CPU.

Input: the image ``x`` ``(B, 1, H, W)`` in [0, 1] and a sparse hint map (:mod:`crossspec.ops.hint_map`):
``ab`` ``(B, 2, H, W)`` (Lab a, b divided by 110, 0 where no hint) and ``mask`` ``(B, 1, H, W)``
(1 where a hint lies): 1 + 2 + 1 channels, as in the paper. Without hints (``forward(x)``, what
every other crossspec path calls) the map is all zero and the model is a plain automatic colorizer;
training shows it that case too (one sample in eight has no hint: :mod:`crossspec.ops.hint_sampling`).

Network, ``(B, 1, H, W)`` -> ``(B, 3, H, W)`` RGB in [0, 1]:

1. **Encoder**: the ImageNet :class:`~crossspec.models.encoders.VGG16Trunk` (frozen by default; the
   trainer loads its weights through :meth:`load_encoder`), ``stages`` stages at strides 1..2**(stages-1).
2. **Hint pyramid**: the hint map is average-pooled to every stage's resolution; at each scale the
   model sees the mean hint ab over the hinted pixels of a cell and the hinted fraction of the cell.
3. **Bottleneck** at the coarsest scale: the deepest features with the hints there, through three
   3x3 convolutions with dilation 1, 2 and 4 (the paper's dilated middle layers), so a hint reaches
   about ``7 * 2**(stages-1)`` pixels away (112 px with 5 stages) before the decoder.
4. **Decoder**: a U-Net path back to full resolution; each level upsamples (bilinear, x2) and
   concatenates the encoder stage, the hints of that scale (and, at full resolution, the input).
5. **Output** in CIE Lab: ``ab = 110 tanh(.)`` from a 3x3 convolution, then, where hints reach, moved
   towards their colour propagated by normalised convolution (:func:`propagate_hints`) by a learned
   gate (a 3x3 convolution on the decoder features and the hint densities, started open on a hint
   and shut away from any); the lightness by ``lightness``:

   - ``"predict"`` (NIR: brightness in the near infrared is not visible lightness): a zero-initialised
     3x3 convolution predicts a correction ``r`` of the input's own lightness ``L_in`` (the Lab L of
     the input read as a gray image) in logit space, ``L = 100 sigmoid(logit(L_in / 100) + r)``, so
     an untrained model starts from the input as gray;
   - ``"input"`` (gray input, the BT.601 luminance of the true colours): ``L = L_in``; after Lab ->
     RGB the three channels are shifted equally so that the output's BT.601 luminance equals the
     input exactly (Lab's L weights linear light, BT.601 gamma-encoded values), then clamped.

   Lab -> RGB (kornia, clipped to [0, 1]) runs in float32 outside autocast.

Kept from the paper: the input (image + ab hints + mask, 1 + 2 + 1 channels); hints as patches of
mean ground-truth ab simulated during training with the paper's laws (geometric number with p = 1/8,
sides 1..9, Gaussian positions around the centre; the task :mod:`crossspec.engine.tasks.hint_guided`);
a U-Net with skip connections and dilated convolutions at the coarsest scale; ab regression with
the ab range 110; the hint-free case as automatic colorization.

Added: the hint gate of step 5. Without it, a decoder that sees hints only as extra channels took
far more steps than a CPU budget gives to use them: after 74 steps (5 CPU minutes) on VCIP the PSNR on
test-clean-20 was 14.14 dB with 0, 1, 5, 10 and 50 hints alike, and even every pixel's true ab as a
hint changed the output by 0.003 on average (``tools/bench_hints.py``, BENCHMARKS.md). The gate is
a shortcut the paper's network learns by itself over long training; with no hints it is inactive.

Changed, for a CPU budget and NIR input: a frozen ImageNet VGG16 trunk as the encoder (the paper
trains its own VGG-style encoder on 1.3 M images), so the hints cannot enter the first layer and
join the decoder and the bottleneck at every scale instead; a much lighter decoder; no ab
classification head (the paper's colour-recommendation output) and no global-hints network
(histogram, saturation); the loss is the config's RGB loss (the paper: smooth-L1 on ab after a
classification pre-training); lightness predicted for NIR.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.color import gray_to_rgb, lab_to_rgb, rgb_to_lab, with_luminance
from crossspec.models.blocks import conv_norm_relu
from crossspec.models.encoders import VGG16Trunk
from crossspec.models.padding import pad_to_multiple
from crossspec.models.registry import register_model
from crossspec.ops.hint_map import AB_SCALE

LIGHTNESS = ("predict", "input")
_LOGIT_EPS = 1e-4  # keeps logit(L_in / 100) finite for black and white pixels
Hints = tuple[torch.Tensor, torch.Tensor]


def _conv(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return conv_norm_relu(cin, cout, dilation=dilation)


def hint_pyramid_level(ab: torch.Tensor, mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Hints at ``1/stride`` resolution: ``(B, 3, H/stride, W/stride)`` = mean hint ab over the
    hinted pixels of each cell (0 where none) and the hinted fraction of the cell."""
    if stride == 1:
        return torch.cat([ab * mask, mask], dim=1)
    covered = F.avg_pool2d(mask, stride)
    total = F.avg_pool2d(ab * mask, stride)
    mean_ab = torch.where(covered > 0, total / covered.clamp_min(1e-8), torch.zeros_like(total))
    return torch.cat([mean_ab, covered], dim=1)


PROPAGATION_STRIDES = (1, 4, 16)


def propagate_hints(ab: torch.Tensor, mask: torch.Tensor,
                    strides: tuple[int, ...] = PROPAGATION_STRIDES) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense hint colour by normalised convolution: ``(ab (B,2,H,W), density (B,S,H,W))``.

    For each stride ``s`` the hinted ab and the hint mask are box-averaged over ``s x s`` cells and
    upsampled back (bilinear, i.e. a tent kernel about ``2s`` wide); the propagated colour is
    ``sum_s num_s / sum_s den_s`` (0 where no hint reaches) and ``density`` holds each ``den_s``.
    Finer strides dominate near a hint, where their density is higher. ``H, W`` must be multiples
    of ``max(strides)``.
    """
    size = ab.shape[-2:]
    nums, dens = [], []
    for s in strides:
        num, den = ab * mask, mask
        if s > 1:
            num = F.interpolate(F.avg_pool2d(num, s), size=size, mode="bilinear", align_corners=False)
            den = F.interpolate(F.avg_pool2d(den, s), size=size, mode="bilinear", align_corners=False)
        nums.append(num)
        dens.append(den)
    den_sum = sum(dens)
    prop = torch.where(den_sum > 1e-6, sum(nums) / den_sum.clamp_min(1e-6), torch.zeros_like(ab))
    return prop, torch.cat(dens, dim=1)


class HintGuidedColorizer(nn.Module):
    """Zhang'17 local-hints colorizer on a VGG16 trunk (see the module docstring).

    Args:
        stages: VGG16 stages used (2-5).
        frozen_stages: encoder stages kept frozen (``stages`` = the whole trunk).
        widths: decoder widths from the second-deepest level to full resolution (``stages - 1`` entries).
        bottleneck: width of the dilated bottleneck (default ``widths[0]``).
        lightness: ``"predict"`` (NIR) or ``"input"`` (gray).

    ``forward(x, hints=None)``: ``x`` ``(B, 1, H, W)`` in [0, 1], ``hints`` ``(ab (B, 2, H, W),
    mask (B, 1, H, W))`` or ``None`` -> ``(B, 3, H, W)`` in [0, 1], any ``H, W`` (the image is
    reflect-padded, the hints zero-padded, to a multiple of ``2**(stages-1)``; cropped back).
    """

    takes_hints = True  # crossspec.inference sends a hint map when the user gives hints

    def __init__(self, stages: int = 5, frozen_stages: int = 5, widths: tuple[int, ...] | list[int] = (256, 96, 32, 16),
                 bottleneck: int | None = None, lightness: str = "predict") -> None:
        super().__init__()
        if lightness not in LIGHTNESS:
            raise ValueError(f"lightness must be one of {', '.join(LIGHTNESS)}, got {lightness!r}")
        if not 2 <= stages <= 5:
            raise ValueError(f"stages must be in 2..5, got {stages}")
        widths = tuple(int(w) for w in widths)
        if len(widths) != stages - 1:
            raise ValueError(f"widths needs {stages - 1} entries for {stages} stages, got {len(widths)}")
        self.encoder = VGG16Trunk(stages=stages, frozen_stages=frozen_stages)
        ch = self.encoder.channels
        width = int(bottleneck or widths[0])
        self.bottleneck = nn.Sequential(_conv(ch[-1] + 3, width), _conv(width, width, 2), _conv(width, width, 4))
        self.ups = nn.ModuleList()
        deep = width
        for level, w in zip(range(stages - 2, -1, -1), widths):
            skip = ch[level] + 3 + (1 if level == 0 else 0)  # encoder stage, hints, (the input)
            self.ups.append(nn.Sequential(_conv(deep + skip, w), _conv(w, w)))
            deep = w
        self.to_ab = nn.Conv2d(deep, 2, 3, padding=1)
        nn.init.normal_(self.to_ab.weight, std=0.01)  # start near gray, far from tanh saturation
        nn.init.zeros_(self.to_ab.bias)
        # Hint gate: where hints are dense the output ab moves to their propagated colour. Started
        # open on a hint (density 1 at stride 1) and shut away from any, so a hint acts before any
        # training; training learns how far each should spread (see the module docstring).
        n_prop = len(PROPAGATION_STRIDES)
        self.hint_gate = nn.Conv2d(deep + n_prop, 1, 3, padding=1)
        with torch.no_grad():
            self.hint_gate.weight.zero_()
            self.hint_gate.weight[0, deep:, 1, 1] = 12.0
            self.hint_gate.bias.fill_(-4.0)
        self.to_l = None
        if lightness == "predict":
            self.to_l = nn.Conv2d(deep, 1, 3, padding=1)
            nn.init.zeros_(self.to_l.weight)  # start from the input's own lightness
            nn.init.zeros_(self.to_l.bias)
        self.lightness = lightness
        self.size_multiple = max(2 ** (stages - 1), max(PROPAGATION_STRIDES))

    def load_encoder(self, features_state: dict[str, torch.Tensor]) -> None:
        """Load ImageNet VGG16 ``features.*`` tensors (prefix stripped) into the encoder."""
        self.encoder.load_imagenet(features_state)

    def _hints(self, x: torch.Tensor, hints: Hints | None) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = x.shape
        if hints is None:
            return x.new_zeros(b, 2, h, w), x.new_zeros(b, 1, h, w)
        ab, mask = hints
        if ab.shape != (b, 2, h, w) or mask.shape != (b, 1, h, w):
            raise ValueError(f"hints must be (ab (B, 2, H, W), mask (B, 1, H, W)) matching x {tuple(x.shape)}, "
                             f"got {tuple(ab.shape)} and {tuple(mask.shape)}")
        return ab.to(x.dtype), mask.to(x.dtype)

    def forward_train(self, x: torch.Tensor, hints: Hints | None = None) -> dict[str, torch.Tensor]:
        """``{"rgb": (B,3,H,W) in [0,1], "lab": (B,3,H,W) (L in [0,100], a/b in +-110)}``."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"HintGuidedColorizer expects (B, 1, H, W), got {tuple(x.shape)}")
        ab_hint, mask = self._hints(x, hints)
        x, (h, w) = pad_to_multiple(x, self.size_multiple)
        pad = (0, x.shape[-1] - w, 0, x.shape[-2] - h)
        ab_hint, mask = F.pad(ab_hint, pad), F.pad(mask, pad)  # no hint in the padding
        feats = self.encoder(x)
        strides = [2 ** s for s in range(len(feats))]
        y = self.bottleneck(torch.cat([feats[-1], hint_pyramid_level(ab_hint, mask, strides[-1])], dim=1))
        for up, level in zip(self.ups, range(len(feats) - 2, -1, -1)):
            skip = [feats[level], hint_pyramid_level(ab_hint, mask, strides[level])] + ([x] if level == 0 else [])
            y = F.interpolate(y, size=feats[level].shape[-2:], mode="bilinear", align_corners=False)
            y = up(torch.cat([y, *skip], dim=1))
        ab = AB_SCALE * torch.tanh(self.to_ab(y))
        if hints is not None:
            prop, density = propagate_hints(ab_hint, mask)
            gate = torch.sigmoid(self.hint_gate(torch.cat([y, density], dim=1)))
            reached = (density.sum(1, keepdim=True) > 1e-6).to(ab.dtype)  # no hint, no change
            ab = ab + gate * reached * (AB_SCALE * prop - ab)
        with torch.autocast(device_type=x.device.type, enabled=False):
            ab, xf = ab.float(), x.float()
            light = rgb_to_lab(gray_to_rgb(xf))[:, :1]
            if self.to_l is not None:
                prior = torch.logit(light / 100.0, eps=_LOGIT_EPS)
                light = 100.0 * torch.sigmoid(prior + self.to_l(y).float())
            lab = torch.cat([light, ab], dim=1)
            rgb = lab_to_rgb(lab)
            if self.to_l is None:
                rgb = with_luminance(rgb, xf)
        return {"rgb": rgb[..., :h, :w], "lab": lab[..., :h, :w]}

    def forward(self, x: torch.Tensor, hints: Hints | None = None) -> torch.Tensor:
        return self.forward_train(x, hints)["rgb"]


@register_model(
    "zhang17",
    description="Zhang'17 user-guided colorization: VGG16-trunk U-Net taking sparse colour hints (colorize --hints)",
    domains=("nir", "gray"),
    tiny={"stages": 3, "frozen_stages": 3, "widths": (8, 8)},
    task="hint-colorize",
)
def zhang17(**kwargs) -> HintGuidedColorizer:
    return HintGuidedColorizer(**kwargs)
