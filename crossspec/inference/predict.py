"""Running a colorizer on batches of tiles: device placement, padding to the model's size multiple, bf16 on CUDA."""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from crossspec.device import resolve_device
from crossspec.domains import check_domain as check_domain_name
from crossspec.errors import ConfigError, CrossspecError
from crossspec.models import load_model, model_info
from crossspec.models.padding import pad_to_multiple
from crossspec.ops.guided_upsample import downscale, guided_upsample
from crossspec.tta import with_tta

log = logging.getLogger("crossspec")
# Guided upsampling of a work-scale prediction: a 5x5 window at the working resolution; input
# variations below sqrt(eps) = 0.01 (2.5 levels of 255: 8-bit banding, JPEG blocks, noise) are not
# transferred, so a dark smooth sky does not come back amplified into stripes.
GUIDE_RADIUS, GUIDE_EPS = 2, 1e-4


def load_for_inference(model: nn.Module | str | None = None, checkpoint: str | None = None,
                       device: str | torch.device | None = "auto") -> nn.Module:
    """A colorizer on ``device`` in eval mode, from a module, a registered model name, a run dir or
    a checkpoint file (``checkpoint`` wins over ``model``)."""
    dev = resolve_device(device)
    spec = checkpoint if checkpoint is not None else model
    if spec is None:
        raise ConfigError("no model given: pass --checkpoint CKPT or --model NAME (see `crossspec models`)")
    net = spec if isinstance(spec, nn.Module) else load_model(str(spec), dev)
    return net.to(dev).eval()


def check_domain(model: nn.Module, domain: str) -> None:
    """Refuse a domain the registered model was not built for."""
    check_domain_name(domain, "--domain", ConfigError)
    info = model_info(model)
    if info is None:
        return
    domains = info.entry.domains
    if domain not in domains:
        raise ConfigError(f"--domain: model {info.name!r} colorizes {', '.join(domains)} images, not {domain!r}")


def domain_kwargs(model: nn.Module, domain: str) -> dict[str, str]:
    """``{"domain": domain}`` for models whose registry entry says ``takes_domain``, after checking
    the model colorizes that domain; ``{}`` otherwise (and for modules not built by ``create_model``)."""
    check_domain(model, domain)
    info = model_info(model)
    return {"domain": domain} if info is not None and info.entry.takes_domain else {}


def make_runner(model: nn.Module, domain: str = "nir", tta: str = "none",
                amp: bool | None = None, hinted: bool = False) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function ``x (B, 1, H, W) [0,1] -> (B, 3, H, W)`` running ``model`` on ``x``'s device.

    ``x`` is padded at the bottom/right to ``model.size_multiple`` and the output cropped back.
    ``amp=None`` runs under bf16 autocast on CUDA only; ``False`` keeps fp32 everywhere (what
    ``crossspec eval`` uses, so its numbers do not depend on the device). ``tta="hflip"`` averages
    with the mirrored input's prediction (:mod:`crossspec.tta`; twice the compute). The output's
    dtype is the model's (bf16 under autocast); callers clamp and convert.

    ``hinted``: ``x`` is ``(B, 4, H, W)``, the input and its hint map (``a/110, b/110, mask``;
    :mod:`crossspec.inference.hints`); the model gets ``model(x[:, :1], hints=(ab, mask))``, the
    hints zero-padded where the input is mirrored (no hint appears in the padding).
    """
    kwargs = domain_kwargs(model, domain)
    multiple = int(getattr(model, "size_multiple", 1) or 1)
    if hinted:
        from crossspec.inference.hints import check_takes_hints

        info = model_info(model)
        check_takes_hints(model, info.name if info is not None else type(model).__name__)

    def run(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        call = dict(kwargs)
        if hinted:
            if x.shape[1] != 4:
                raise CrossspecError(f"a hinted run takes (B, 4, H, W) (input + hint map), got {tuple(x.shape)}")
            x, hint = x[:, :1], x[:, 1:]
            x, _ = pad_to_multiple(x, multiple)
            hint = F.pad(hint, (0, x.shape[-1] - w, 0, x.shape[-2] - h))
            call["hints"] = (hint[:, :2], hint[:, 2:3])
        else:
            x, _ = pad_to_multiple(x, multiple)
        use_amp = x.device.type == "cuda" if amp is None else bool(amp)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=use_amp):
            y = model(x, **call)
        if y.dim() != 4 or y.shape[1] != 3:
            raise CrossspecError(f"model returned shape {tuple(y.shape)}; a colorizer returns (B, 3, H, W)")
        return y[..., :h, :w]

    return with_tta(run, tta)


def is_pointwise_model(model: nn.Module) -> bool:
    """True when ``model`` declares ``receptive_field = 1``: its output at a pixel depends on that
    pixel's input alone (``nir-gain``, ``nir-gray``), so tiles need no overlap or blending."""
    return getattr(model, "receptive_field", None) == 1


def check_work_scale(work_scale: float) -> float:
    """``work_scale`` as a float in (0, 1] (``ConfigError`` otherwise)."""
    try:
        value = float(work_scale)
    except (TypeError, ValueError):
        raise ConfigError(f"work scale must be a number in (0, 1], got {work_scale!r}") from None
    if not 0 < value <= 1:
        raise ConfigError(f"work scale must be in (0, 1] (1 = full resolution), got {work_scale!r}")
    return value


def make_predictor(model: nn.Module, domain: str = "nir", device: str | torch.device | None = None,
                   tta: str = "none", amp: bool | None = None, hinted: bool = False,
                   work_scale: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``tiles (N, h, w) float32 [0,1] -> (N, 3, h, w) float32 [0,1]`` running ``model``
    through :func:`make_runner` (padding, bf16 autocast on CUDA unless ``amp=False``, ``tta``) on
    the model's device. Multi-band tiles ``(N, h, w, C)`` (raster pairs' NIR+SWIR or colour-infrared
    input) go to the model as ``(N, C, h, w)``.

    Its attribute ``pointwise`` is :func:`is_pointwise_model` (a mirror keeps a pointwise model
    pointwise); :func:`crossspec.inference.stream.stream_colorize` then skips tile overlaps. Its
    attribute ``batch_size`` is :func:`default_batch_size` for the model's device.

    ``hinted=True`` (models that take colour hints): tiles are ``(N, h, w, 4)``, the input and its
    hint map (:mod:`crossspec.inference.hints`); attribute ``hinted`` says so.

    ``work_scale < 1`` runs the model on each tile downscaled by that factor (antialiased) and
    brings its colours back to the tile's full resolution by guided upsampling with the tile itself
    as the guide (:func:`crossspec.ops.guided_upsample`): a model trained on downscaled photographs
    (VCIP 2020 shows whole scenes at about 0.38 of the camera's resolution) then sees objects at the
    size it learned, and costs about ``work_scale**2`` of the compute. One-band inputs only."""
    dev = next((p.device for p in model.parameters()), None) or next(
        (b.device for b in model.buffers()), None) or resolve_device(device)
    work_scale = check_work_scale(work_scale)
    if work_scale < 1 and hinted:
        raise ConfigError("work scale below 1 with colour hints: hints are placed at full resolution; colorize "
                          "at work scale 1")
    run = make_runner(model, domain, tta, amp=amp, hinted=hinted)

    @torch.inference_mode()
    def predict(tiles: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))
        x = x.permute(0, 3, 1, 2) if x.dim() == 4 else x[:, None]
        x = x.to(dev)
        if work_scale == 1:
            return run(x).float().clamp_(0, 1).cpu().numpy()
        if x.shape[1] != 1:
            raise ConfigError(f"work scale below 1 needs one-band input, got {x.shape[1]} bands")
        small = downscale(x, work_scale)
        y = guided_upsample(run(small).float(), small, x, radius=GUIDE_RADIUS, eps=GUIDE_EPS)
        return y.clamp_(0, 1).cpu().numpy()

    predict.pointwise = is_pointwise_model(model) and work_scale == 1
    predict.hinted = bool(hinted)
    predict.batch_size = default_batch_size(dev)
    return predict


def default_batch_size(device: torch.device | str) -> int:
    """Tiles per model call by default: 4 on a GPU, which needs the parallel work; 1 on a CPU, where
    a batch's activations only spill the caches (colormamba-small, 512² tiles, one thread: 0.15 MP/s
    at 1 tile per call against 0.10 MP/s at 4)."""
    return 4 if torch.device(device).type == "cuda" else 1
