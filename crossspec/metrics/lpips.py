"""LPIPS (Zhang et al. 2018), AlexNet trunk, linear heads v0.1, in plain torch.

The ``lpips`` package cannot be imported here (it imports torchvision, which does not load against
the CPU torch build), so this module rebuilds the same network: torchvision's AlexNet
``features`` (same layer indices, so its state dicts load unchanged), the package's input scaling
layer, channel-normalised feature differences at the five ReLU outputs, 1x1 linear heads without
bias, spatial mean, sum over layers.

Weights:
- the linear heads ship with the installed ``lpips`` package (``lpips/weights/v0.1/alex.pth``); the
  package folder is found with `importlib.util.find_spec`, which does not import it;
- the AlexNet trunk (ImageNet weights, torchvision key names ``features.N.weight``): an explicit path,
  else the file named by ``$CROSSSPEC_LPIPS_ALEXNET``, else torchvision's download in the torch hub
  cache (``<torch.hub.get_dir()>/checkpoints/alexnet-owt-7be5be79.pth``). Nothing is downloaded.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

from crossspec.errors import CrossspecError, file_error
from crossspec.io.imagenet_weights import read_state_dict, resolve_trunk_weights, trunk_file
from crossspec.metrics._checks import MetricInputError, check_pair

ALEXNET_ENV = "CROSSSPEC_LPIPS_ALEXNET"
ALEXNET_HUB_FILE = trunk_file("alexnet").hub_file
HEADS_RELATIVE = Path("weights") / "v0.1" / "alex.pth"

# (index in torchvision's alexnet().features, in_channels, out_channels, kernel, stride, padding)
_ALEX_CONVS = (
    (0, 3, 64, 11, 4, 2),
    (3, 64, 192, 5, 1, 2),
    (6, 192, 384, 3, 1, 1),
    (8, 384, 256, 3, 1, 1),
    (10, 256, 256, 3, 1, 1),
)
# torchvision places max-pooling (3x3, stride 2) at these indices of ``features``.
_ALEX_POOLS = (2, 5)
# LPIPS taps the ReLU outputs that follow each convolution.
TAP_INDICES = (1, 4, 7, 9, 11)
TAP_CHANNELS = (64, 192, 384, 256, 256)
# Smallest side that survives conv 11/4 and two 3/2 poolings with a non-empty map at every tap.
MIN_SIZE = 31

# The lpips package's ScalingLayer constants (ImageNet statistics re-expressed for inputs in [-1, 1]).
SCALING_SHIFT = (-0.030, -0.088, -0.188)
SCALING_SCALE = (0.458, 0.448, 0.450)
# The lpips package's feature normalisation epsilon: f / (||f|| + eps).
NORMALIZE_EPS = 1e-10


def build_alexnet_features() -> nn.Sequential:
    """AlexNet's convolutional trunk up to the last ReLU, with torchvision's ``features`` indices.

    Index 12 (the final max-pooling) is left out: LPIPS never uses it and it has no weights.
    """
    layers: dict[int, nn.Module] = {}
    for index, cin, cout, k, stride, pad in _ALEX_CONVS:
        layers[index] = nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=pad)
        layers[index + 1] = nn.ReLU()
    for index in _ALEX_POOLS:
        layers[index] = nn.MaxPool2d(kernel_size=3, stride=2)
    return nn.Sequential(*(layers[i] for i in range(len(layers))))


def lpips_package_dir() -> Path | None:
    """Folder of the installed ``lpips`` package, found without importing it; None if not installed."""
    try:
        spec = importlib.util.find_spec("lpips")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_heads_path() -> Path:
    """The v0.1 AlexNet linear-head weights shipped with the ``lpips`` package."""
    pkg = lpips_package_dir()
    if pkg is None:
        raise CrossspecError(
            "lpips: the 'lpips' package is not installed, so its linear-head weights "
            f"(lpips/{HEADS_RELATIVE.as_posix()}) cannot be found; `pip install lpips` (it is not imported) "
            "or pass heads_path="
        )
    path = pkg / HEADS_RELATIVE
    if not path.is_file():
        raise file_error(path, "LPIPS linear-head weights missing from the installed lpips package", CrossspecError)
    return path


def resolve_alexnet_path(path: str | os.PathLike | None = None) -> Path:
    """Where the AlexNet trunk weights are: ``path``, else ``$CROSSSPEC_LPIPS_ALEXNET``, else the hub cache.

    An explicit path or environment variable that names a missing file is an error (not silently
    replaced by the cache), so a typo does not change which network is measured.
    """
    return resolve_trunk_weights("alexnet", path, env=(ALEXNET_ENV,), what="AlexNet trunk weights for LPIPS")


class LPIPS(nn.Module):
    """LPIPS distance with the AlexNet trunk and v0.1 linear heads; frozen, always in eval mode.

    ``forward(pred, target)`` takes ``(B, 3, H, W)`` float tensors in ``[0, 1]`` (``H, W >= 31``),
    scales them to ``[-1, 1]`` and returns ``(B,)`` distances (0 for identical images, larger is
    more different; about 0.1-0.8 for natural image pairs). Gradients flow to the inputs, so it
    can serve as a perceptual loss; the parameters never train.

    Build it with `LPIPS.from_default` (weights found as described in the module docstring) or
    `LPIPS.from_files`; a bare ``LPIPS()`` has random weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = build_alexnet_features()
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in TAP_CHANNELS)
        self.register_buffer("shift", torch.tensor(SCALING_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALING_SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LPIPS:
        # No dropout or batch norm to switch, but a metric must not change with the caller's mode.
        return super().train(False)

    def load_trunk(self, state: dict[str, torch.Tensor], source: str | os.PathLike = "state dict") -> None:
        """Load torchvision-style AlexNet weights (``features.N.*``; ``classifier.*`` is ignored)."""
        trunk = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        unexpected = [k for k in state if not k.startswith(("features.", "classifier."))]
        if unexpected:
            raise file_error(source, f"not an AlexNet state dict: unexpected keys {unexpected[:5]}", CrossspecError)
        try:
            self.features.load_state_dict(trunk, strict=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())
            raise file_error(source, f"AlexNet trunk weights do not fit: {detail}", CrossspecError) from exc

    def load_heads(self, state: dict[str, torch.Tensor], source: str | os.PathLike = "state dict") -> None:
        """Load the lpips package's linear heads (keys ``lin{k}.model.1.weight``)."""
        mapped = {}
        for key, value in state.items():
            # The package wraps each head as Sequential(Dropout, Conv2d): the conv is entry 1.
            name, _, rest = key.partition(".")
            if not (name.startswith("lin") and name[3:].isdigit() and rest == "model.1.weight"):
                raise file_error(source, f"not LPIPS linear heads: unexpected key {key!r}", CrossspecError)
            mapped[f"{name[3:]}.weight"] = value
        try:
            self.heads.load_state_dict(mapped, strict=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())
            raise file_error(source, f"LPIPS linear heads do not fit: {detail}", CrossspecError) from exc

    @classmethod
    def from_files(
        cls, alexnet_path: str | os.PathLike, heads_path: str | os.PathLike, device: torch.device | str = "cpu"
    ) -> LPIPS:
        """LPIPS with the AlexNet trunk and linear heads read from the given files."""
        net = cls()
        net.load_trunk(read_state_dict(alexnet_path), alexnet_path)
        net.load_heads(read_state_dict(heads_path), heads_path)
        return net.to(device)

    @classmethod
    def from_default(
        cls,
        path: str | os.PathLike | None = None,
        device: torch.device | str = "cpu",
        heads_path: str | os.PathLike | None = None,
    ) -> LPIPS:
        """LPIPS alex v0.1 with weights found as `resolve_alexnet_path` and `default_heads_path` say.

        Args:
            path: AlexNet trunk state dict; None looks at ``$CROSSSPEC_LPIPS_ALEXNET``, then the hub cache.
            device: where the network lives.
            heads_path: linear heads; None takes them from the installed lpips package.
        Raises:
            CrossspecError: naming the paths tried when a weights file is missing or does not fit.
        """
        alexnet = resolve_alexnet_path(path)
        heads = Path(heads_path) if heads_path is not None else default_heads_path()
        return cls.from_files(alexnet, heads, device)

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """AlexNet ReLU outputs used by LPIPS for an input already in the trunk's scale."""
        out = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in TAP_INDICES:
                out.append(x)
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = check_pair("lpips", pred, target, channels=3, min_size=MIN_SIZE)
        dt = self.shift.dtype
        both = torch.cat([pred, target]).to(dt)
        # [0, 1] -> [-1, 1] (the package's normalize=True), then its ScalingLayer.
        both = ((2 * both - 1) - self.shift) / self.scale
        total = torch.zeros(pred.shape[0], dtype=dt, device=pred.device)
        for feat, head in zip(self.taps(both), self.heads):
            feat = feat / (torch.sqrt(feat.square().sum(dim=1, keepdim=True)) + NORMALIZE_EPS)
            fp, ft = feat.chunk(2)
            total = total + head((fp - ft).square()).mean(dim=(1, 2, 3))
        return total


_DEFAULT_NETS: dict[torch.device, LPIPS] = {}


def lpips_distance(pred: torch.Tensor, target: torch.Tensor, net: LPIPS | None = None) -> torch.Tensor:
    """LPIPS alex v0.1 distance per image.

    Args:
        pred, target: ``(B, 3, H, W)`` float tensors in ``[0, 1]``, ``H, W >= 31``.
        net: an `LPIPS` module; None builds `LPIPS.from_default` once per device and reuses it.

    Returns:
        ``(B,)`` tensor (the net's dtype, float32 by default), >= 0.
    """
    if net is None:
        if not isinstance(pred, torch.Tensor):
            raise MetricInputError(f"lpips: pred must be a torch.Tensor, got {type(pred).__name__}")
        net = _DEFAULT_NETS.get(pred.device)
        if net is None:
            net = LPIPS.from_default(device=pred.device)
            _DEFAULT_NETS[pred.device] = net
    return net(pred, target)


__all__ = ["LPIPS", "lpips_distance", "build_alexnet_features", "resolve_alexnet_path", "default_heads_path"]
