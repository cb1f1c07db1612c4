"""Model weights files: safetensors with the model's registered name and kwargs in the metadata.

This module reads and writes the files and knows no model class: it takes and returns state dicts.
:mod:`crossspec.models.factory` turns them into models (``create_model(name, checkpoint_path=...)``).

A weights file holds ``model.<param>`` tensors and, when training kept an exponential moving
average, ``ema.<param>`` tensors. Its metadata (string -> string) holds:

- ``crossspec_format``: :data:`FORMAT_VERSION`; files from another format version are refused;
- ``model_name`` / ``model_kwargs`` (JSON): enough to rebuild the model with ``create_model``;
- ``step``, ``domain``, ``crossspec_version``: provenance.

"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from crossspec.errors import CrossspecError, file_error

FORMAT_VERSION = "1"
WEIGHTS_SUFFIX = ".safetensors"


def _plain_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    # safetensors_bytes copies each tensor's bytes out, so tensors that share storage need no copy here
    return {f"{prefix}{k}": v.detach() for k, v in state.items()}


_ST_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
              torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
              torch.bool: "BOOL"}


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors encoding of ``tensors`` with the header in sorted order.

    safetensors' own writer orders the metadata as its hash map happens to iterate, so the same
    weights could give a different file (and sha256) on each export; a shipped model's sha256 is
    pinned by the manifests of the models that share its tensors, so the bytes must depend on the
    contents alone. Tensors are laid out by element size (largest first, so each stays aligned for
    memory mapping), then by name; the header is padded with spaces to a multiple of 8 bytes, as the
    format asks.
    """
    header: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in sorted(tensors, key=lambda k: (-tensors[k].element_size(), k)):
        t = tensors[name].detach().to("cpu").contiguous()
        if t.dtype not in _ST_DTYPES:
            raise ValueError(f"{name}: dtype {t.dtype} has no safetensors code")
        blob = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return len(head).to_bytes(8, "little") + head + b"".join(blobs)


def as_json(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists), so saved and live kwargs compare equal."""
    return json.loads(json.dumps(value))


def write_weights(
    path: str | os.PathLike,
    state: dict[str, torch.Tensor],
    ema_state: dict[str, torch.Tensor] | None = None,
    *,
    model_name: str,
    model_kwargs: dict[str, Any],
    step: int = 0,
    domain: str = "nir",
    extra: dict[str, str] | None = None,
) -> Path:
    """Write ``state`` (and ``ema_state``) to ``path`` atomically, replacing it; the metadata records
    ``model_name`` and ``model_kwargs`` (what rebuilds the model), ``step`` and ``domain``."""
    from crossspec import __version__
    from crossspec.io.atomic import atomic_path

    tensors = _plain_state(state, "model.")
    if ema_state is not None:
        tensors.update(_plain_state(ema_state, "ema."))
    meta = {
        "crossspec_format": FORMAT_VERSION,
        "crossspec_version": __version__,
        "model_name": model_name,
        "model_kwargs": json.dumps(as_json(model_kwargs), sort_keys=True),
        "step": str(int(step)),
        "domain": domain,
        "has_ema": "1" if ema_state is not None else "0",
        **(extra or {}),
    }
    with atomic_path(path, overwrite=True) as tmp:
        Path(tmp).write_bytes(safetensors_bytes(tensors, meta))
    return Path(path)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """Metadata of a weights file; raises CrossspecError when it is not a crossspec weights file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise file_error(path, "checkpoint not found", CrossspecError)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises several unrelated types for a corrupt header
        raise file_error(path, f"not a readable safetensors file ({exc})", CrossspecError) from None
    if "model_name" not in meta or "crossspec_format" not in meta:
        raise file_error(path, "safetensors file without crossspec metadata (model_name, crossspec_format)", CrossspecError)
    if meta["crossspec_format"] != FORMAT_VERSION:
        raise file_error(
            path,
            f"checkpoint format {meta['crossspec_format']} is not supported by this crossspec "
            f"(format {FORMAT_VERSION}); retrain or convert it",
            CrossspecError,
        )
    return meta


def model_kwargs_from(meta: dict[str, str], path: str | os.PathLike) -> dict[str, Any]:
    try:
        kwargs = json.loads(meta.get("model_kwargs", "{}"))
    except json.JSONDecodeError:
        raise file_error(path, "metadata model_kwargs is not valid JSON", CrossspecError) from None
    if not isinstance(kwargs, dict):
        raise file_error(path, "metadata model_kwargs is not a mapping", CrossspecError)
    return kwargs


def read_weights(path: str | os.PathLike, prefer_ema: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(state_dict, metadata)``; the EMA weights when present and ``prefer_ema``."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    tensors = load_file(str(path))
    prefix = "ema." if prefer_ema and any(k.startswith("ema.") for k in tensors) else "model."
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        raise file_error(path, "holds no model weights (no 'model.*' tensors)", CrossspecError)
    return state, meta


def resolve_checkpoint(spec: str | os.PathLike) -> Path:
    """A weights file from a file path or a run directory (``best`` first, then ``last``)."""
    path = Path(spec)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.safetensors", path / "checkpoints" / "last.safetensors",
                          path / "best.safetensors", path / "last.safetensors"):
            if candidate.is_file():
                return candidate
        raise file_error(path, "run directory without checkpoints/best.safetensors or checkpoints/last.safetensors",
                         CrossspecError)
    if path.suffix != WEIGHTS_SUFFIX:
        raise file_error(path, f"expected a {WEIGHTS_SUFFIX} weights file or a run directory", CrossspecError)
    return path
