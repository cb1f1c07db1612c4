"""Pretrained weights shipped inside the package, one manifest per model: finding, checking and reading them.

This module reads files and knows no model class; :func:`crossspec.models.create_model` loads the
state dicts it returns into the architectures the manifests name.

A shipped model is three files in :data:`WEIGHTS_DIR` (``crossspec/weights/``):

- ``<name>.safetensors``: the weights, a crossspec weights file (:mod:`crossspec.io.weights_file`);
- ``<name>.md``: the model card (what it was trained on, how, its limits, its measured scores);
- ``<name>.json``: the manifest, found at first use of the registry, so a new shipped model is a file
  drop and needs no code. Its keys::

    format        1
    name          the registered name (also the file stem), e.g. "colormamba-small-vcip"
    description   one line for `crossspec models`
    architecture  the registered architecture the weights fit, e.g. "colormamba-small"
    kwargs        that architecture's keyword arguments
    domain        "nir" or "gray": the input it colorizes
    imagery       (optional) "photo" (ground-level photographs, the default) or "overhead" (aerial and
                  satellite rasters): what it was trained on, and which default it can be
    weights       file name of the weights, beside the manifest
    sha256        hex digest of the weights file, checked before every load
    card          file name of the model card, beside the manifest
    default       (optional) true: the model `default_pretrained(domain, imagery)` picks
    metrics       {"protocol": "...", "splits": {"test-clean-20": {"psnr": ., "ssim": ., "lpips": ., ...}, ...}}
    provenance    the training run's sessions (code, versions, device) and the export's, see
                  crossspec.engine.run_provenance

Nothing is ever downloaded: a missing or altered weights file is an error naming the file and the
expected and actual sha256. ``tools/export_pretrained.py`` writes all three files from a run folder.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from crossspec.errors import CrossspecError, file_error
from crossspec.io.hashing import sha256_file
from crossspec.io.weights_file import model_kwargs_from, read_weights

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
FORMAT = 1
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
REQUIRED = ("name", "architecture", "kwargs", "domain", "weights", "sha256", "card")
IMAGERY = ("photo", "overhead")


@dataclass(frozen=True)
class Pretrained:
    """One shipped model, as its manifest describes it (paths resolved beside the manifest)."""

    name: str
    architecture: str
    kwargs: dict[str, Any]
    domain: str
    weights: Path
    sha256: str
    card: Path
    manifest: Path
    description: str = ""
    imagery: str = "photo"
    default: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    # {"from": NAME, "sha256": ..., "keys": [...]}: those tensors come from the shipped model NAME,
    # whose weights file must still have that sha256 (e.g. the frozen ImageNet stages of an encoder,
    # stored once for the NIR and the gray model)
    shared: dict[str, Any] = field(default_factory=dict)

    def split_metrics(self, split: str) -> dict[str, float]:
        """Measured scores on ``split`` (e.g. ``"test-clean-20"``); empty when not measured."""
        return dict(self.metrics.get("splits", {}).get(split, {}))

    def card_text(self) -> str:
        if not self.card.is_file():
            raise file_error(self.card, f"model card of {self.name!r} is missing (manifest {self.manifest})",
                             CrossspecError)
        return self.card.read_text(encoding="utf-8")


def _sibling(manifest: Path, data: dict, key: str) -> Path:
    value = data[key]
    # a bare file name keeps every shipped file inside the weights folder
    if not isinstance(value, str) or not value or Path(value).name != value or value in (".", ".."):
        raise file_error(manifest, f"{key}: expected a file name beside the manifest, got {value!r}", CrossspecError)
    return manifest.parent / value


def read_manifest(path: str | os.PathLike) -> Pretrained:
    """Parse and check one manifest; errors name the manifest and the key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise file_error(path, f"manifest is not valid JSON ({exc})", CrossspecError) from None
    if not isinstance(data, dict):
        raise file_error(path, "manifest must be a JSON object", CrossspecError)
    if data.get("format", FORMAT) != FORMAT:
        raise file_error(path, f"manifest format {data['format']!r} is not supported (format {FORMAT})", CrossspecError)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise file_error(path, f"manifest lacks {', '.join(missing)}", CrossspecError)
    name = data["name"]
    if name != path.stem or not NAME_RE.match(str(name)):
        raise file_error(path, f"name: {name!r} must equal the file stem {path.stem!r} and use a-z, 0-9, '.', '_', '-'",
                         CrossspecError)
    if data["domain"] not in ("nir", "gray"):
        raise file_error(path, f"domain: {data['domain']!r} is not 'nir' or 'gray'", CrossspecError)
    if data.get("imagery", "photo") not in IMAGERY:
        raise file_error(path, f"imagery: {data['imagery']!r} is not one of {', '.join(map(repr, IMAGERY))}",
                         CrossspecError)
    if not isinstance(data["kwargs"], dict):
        raise file_error(path, "kwargs: must be a mapping", CrossspecError)
    if not re.fullmatch(r"[0-9a-f]{64}", str(data["sha256"])):
        raise file_error(path, f"sha256: {data['sha256']!r} is not 64 lowercase hex digits", CrossspecError)
    return Pretrained(
        name=name, architecture=str(data["architecture"]), kwargs=data["kwargs"], domain=data["domain"],
        weights=_sibling(path, data, "weights"), sha256=data["sha256"], card=_sibling(path, data, "card"),
        manifest=path, description=str(data.get("description", "")), imagery=data.get("imagery", "photo"),
        default=bool(data.get("default", False)),
        metrics=dict(data.get("metrics") or {}), provenance=dict(data.get("provenance") or {}),
        shared=_shared(path, data.get("shared")),
    )


def _shared(path: Path, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    ok = (isinstance(value, dict) and set(value) == {"from", "sha256", "keys"} and isinstance(value["from"], str)
          and value["from"] and re.fullmatch(r"[0-9a-f]{64}", str(value["sha256"])) is not None
          and isinstance(value["keys"], list) and value["keys"] and all(isinstance(k, str) and k for k in value["keys"]))
    if not ok:
        raise file_error(path, f"shared: expected {{\"from\": NAME, \"sha256\": NAME'S WEIGHTS SHA256, \"keys\": "
                               f"[TENSOR, ...]}}, got {value!r}", CrossspecError)
    return dict(value)


_CACHE: dict[tuple, dict[str, Pretrained]] = {}


def discover(directory: str | os.PathLike | None = None) -> dict[str, Pretrained]:
    """``{name: Pretrained}`` for every manifest in ``directory`` (default :data:`WEIGHTS_DIR`).

    Cached by the manifests' names, sizes and modification times, so a dropped-in manifest is seen.
    """
    directory = Path(directory if directory is not None else WEIGHTS_DIR)
    manifests = sorted(directory.glob("*.json")) if directory.is_dir() else []
    key = (str(directory), tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in manifests))
    if key not in _CACHE:
        found = {}
        for path in manifests:
            spec = read_manifest(path)
            found[spec.name] = spec
        defaults: dict[tuple[str, str], list[str]] = {}
        for spec in found.values():
            if spec.default:
                defaults.setdefault((spec.domain, spec.imagery), []).append(spec.name)
        for (domain, imagery), names in defaults.items():
            what = domain if imagery == "photo" else f"{domain} ({imagery} imagery)"
            if len(names) > 1:
                raise file_error(directory, f"several pretrained models are the default for {what}: "
                                            f"{', '.join(names)}; mark one", CrossspecError)
        _CACHE.clear()  # only the current directory's view is worth keeping
        _CACHE[key] = found
    return _CACHE[key]


def verify(spec: Pretrained) -> None:
    """Check that the weights file exists and has the manifest's sha256."""
    if not spec.weights.is_file():
        raise file_error(spec.weights, f"pretrained weights of {spec.name!r} are missing (expected sha256 "
                                       f"{spec.sha256}, manifest {spec.manifest}); crossspec never downloads "
                                       "weights: reinstall crossspec or put the file back", CrossspecError)
    actual = sha256_file(spec.weights)
    if actual != spec.sha256:
        raise file_error(spec.weights, f"sha256 is {actual}, expected {spec.sha256} (manifest {spec.manifest}); "
                                       f"the file is damaged or is not the {spec.name!r} weights", CrossspecError)


def load_state(spec: Pretrained) -> dict[str, torch.Tensor]:
    """The verified state dict of ``spec`` (checked against the manifest's architecture and kwargs)."""
    verify(spec)
    state, meta = read_weights(spec.weights, prefer_ema=True)
    kwargs = model_kwargs_from(meta, spec.weights)
    if meta["model_name"] != spec.architecture or kwargs != spec.kwargs:
        raise file_error(spec.weights, f"holds {meta['model_name']!r} weights with kwargs {kwargs}, but the manifest "
                                       f"{spec.manifest} says {spec.architecture!r} with {spec.kwargs}", CrossspecError)
    if spec.shared:
        state.update(shared_tensors(spec, state))
    return state


def shared_tensors(spec: Pretrained, own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors ``spec`` takes from another shipped model (its manifest's ``shared``)."""
    source, keys = spec.shared["from"], spec.shared["keys"]
    shipped = discover(spec.manifest.parent)
    if source not in shipped or source == spec.name:
        raise file_error(spec.manifest, f"shared: takes {len(keys)} tensors from {source!r}, which is not another "
                                        f"shipped model here ({', '.join(sorted(shipped))})", CrossspecError)
    if shipped[source].sha256 != spec.shared["sha256"]:
        # a re-exported source may hold other values under the same names (e.g. a fine-tuned encoder)
        raise file_error(spec.manifest, f"shared: was exported against {source!r} with weights sha256 "
                                        f"{spec.shared['sha256']}, but that model's weights now have "
                                        f"{shipped[source].sha256}; re-export {spec.name!r}", CrossspecError)
    both = [k for k in keys if k in own]
    if both:
        raise file_error(spec.weights, f"holds {both[0]} although its manifest takes it from {source!r}", CrossspecError)
    base = load_state(shipped[source])
    lacking = [k for k in keys if k not in base]
    if lacking:
        raise file_error(spec.manifest, f"shared: {source!r} has no {lacking[0]}", CrossspecError)
    return {k: base[k] for k in keys}
