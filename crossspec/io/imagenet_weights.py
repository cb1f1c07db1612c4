"""ImageNet trunk weights in torchvision's key layout: where to find them, how to read them.

crossspec never downloads silently. For each known trunk the lookup order is:

1. an explicit path (a config key or a CLI option);
2. the file named by the trunk's environment variable (``$CROSSSPEC_VGG16``, ``$CROSSSPEC_ALEXNET``;
   LPIPS also honours ``$CROSSSPEC_LPIPS_ALEXNET``);
3. torchvision's file name in the torch hub cache (``<torch.hub.get_dir()>/checkpoints/``);
4. only when the caller opts in (``download=True``): torchvision's URL, fetched into the hub cache
   and checked against the sha256 prefix that torchvision puts in the file name.

An explicit path or environment variable that names a missing file is an error rather than a
silent fall-through, so a typo never changes which network is used. Files hold a state dict
(``features.N.weight`` / ``features.N.bias``; a full torchvision checkpoint with ``classifier.*``
keys is fine, those keys are not used).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from crossspec.errors import CrossspecError, file_error


@dataclass(frozen=True)
class TrunkFile:
    arch: str
    env: tuple[str, ...]
    hub_file: str
    url: str

    @property
    def sha256_prefix(self) -> str:
        # torchvision names its files <arch>-<first hex digits of the sha256>.pth
        return self.hub_file.rsplit("-", 1)[-1].split(".")[0]


TRUNKS: dict[str, TrunkFile] = {
    "vgg16": TrunkFile("vgg16", ("CROSSSPEC_VGG16",), "vgg16-397923af.pth",
                       "https://download.pytorch.org/models/vgg16-397923af.pth"),
    "alexnet": TrunkFile("alexnet", ("CROSSSPEC_ALEXNET", "CROSSSPEC_LPIPS_ALEXNET"), "alexnet-owt-7be5be79.pth",
                         "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
}


def trunk_file(arch: str) -> TrunkFile:
    try:
        return TRUNKS[arch]
    except KeyError:
        raise CrossspecError(f"no ImageNet weights known for trunk {arch!r}; known: {', '.join(TRUNKS)}") from None


def hub_path(arch: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / trunk_file(arch).hub_file


def resolve_trunk_weights(arch: str, path: str | os.PathLike | None = None, *, download: bool = False,
                          env: tuple[str, ...] | None = None, what: str | None = None) -> Path:
    """Path of the ImageNet weights of trunk ``arch`` (see the module docstring for the order).

    ``env`` replaces the trunk's environment variables and ``what`` names the weights in errors
    (LPIPS uses its own of both).
    """
    spec = trunk_file(arch)
    what = what or f"ImageNet {arch} weights"
    if path is not None:
        candidate = Path(path)
        if not candidate.is_file():
            raise file_error(candidate, f"{what} not found", CrossspecError)
        return candidate
    names = spec.env if env is None else env
    for name in names:
        value = os.environ.get(name)
        if value:
            candidate = Path(value)
            if not candidate.is_file():
                raise file_error(candidate, f"{what} not found (named by ${name})", CrossspecError)
            return candidate
    hub = hub_path(arch)
    if hub.is_file():
        return hub
    if download:
        return download_trunk_weights(arch)
    unset = " and ".join(f"${n} (unset)" for n in names)
    raise CrossspecError(
        f"{what} not found; tried {unset} and {hub}. Provide a torchvision-style state dict "
        f"(keys features.N.weight/bias): give its path, set ${names[0]}=/path/to/{spec.hub_file}, place "
        f"torchvision's {spec.hub_file} at {hub}, or opt in to fetching it from {spec.url} "
        "(config model.download_weights: true, or download=True)"
    )


def download_trunk_weights(arch: str) -> Path:
    """Fetch torchvision's file into the hub cache and check its sha256 prefix (explicit opt-in only)."""
    spec = trunk_file(arch)
    dst = hub_path(arch)
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(spec.url, str(dst), hash_prefix=spec.sha256_prefix, progress=False)
    except (OSError, RuntimeError) as exc:
        raise CrossspecError(f"{spec.url}: download of the ImageNet {arch} weights failed: {exc}") from exc
    return dst


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A mapping of names to tensors from ``path``, read with ``weights_only=True`` (no pickled code);
    a ``{"state_dict": ...}`` wrapper is unwrapped. Errors name the file."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a file that is not a checkpoint
        # torch's own text suggests weights_only=False, which would run arbitrary pickled code: not offered.
        raise file_error(path, f"cannot be read as a torch state dict ({type(exc).__name__}); expected a file "
                         "written by torch.save(model.state_dict()) holding only tensors", CrossspecError) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise file_error(path, "is not a state dict (expected a mapping of names to tensors)", CrossspecError)
    return state


def load_features_state(path: str | os.PathLike, prefix: str = "features.") -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors of a torchvision-style state dict, with ``prefix`` stripped.

    Raises :class:`CrossspecError` naming the file when it is not a readable state dict or holds no
    ``features.*`` keys.
    """
    state = read_state_dict(path)
    out = {k[len(prefix):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(prefix)}
    if not out:
        keys = ", ".join(list(map(str, state))[:4])
        raise file_error(path, f"has no '{prefix}*' keys (torchvision layout expected; found {keys} ...)",
                         CrossspecError)
    return out
