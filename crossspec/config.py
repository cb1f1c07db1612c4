"""Experiment configuration: YAML -> nested dataclasses, dotted overrides, resolved YAML out.

>>> cfg = load_config("configs/quickstart.yaml", ["train.lr=2e-4", "data.batch_size=4"])
>>> cfg.train.lr
0.0002

Every key is checked against the dataclass fields: an unknown key raises :class:`ConfigError`
suggesting the closest known key, and a value of the wrong type raises :class:`ConfigError` naming
the key and the expected type. Values are parsed with ``yaml.safe_load`` or plain ``int``/``float``
conversions: nothing is ever executed.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from crossspec.domains import check_domain
from crossspec.errors import ConfigError, file_error


@dataclass
class ModelConfig:
    """Which registered model to build (``crossspec.models.create_model(name, **kwargs)``)."""

    name: str = "unet"
    kwargs: dict[str, Any] = field(default_factory=dict)
    # ImageNet weights for a model with a pretrained encoder, loaded on a fresh run (not on resume,
    # where the checkpoint has them): a file path, or "auto" for $CROSSSPEC_VGG16 / the torch hub
    # cache (crossspec.io.imagenet_weights). download_weights opts in to fetching torchvision's file.
    encoder_weights: Optional[str] = None
    download_weights: bool = False


@dataclass
class GraySourceConfig:
    """Extra gray-domain training images for the cooperative model: any dataset whose samples
    carry an RGB ``target`` (its luminance becomes the gray input), e.g. ``{dataset: rgb-folder,
    root: photos/}`` or ``{dataset: epfl, root: ..., split: all}``."""

    dataset: str = "rgb-folder"
    root: Optional[str] = None
    split: Optional[str] = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Dataset, splits and the training-time augmentation.

    ``crop`` is the side of the random square crop taken from each training image; ``resize``
    (optional) resizes that crop (ColorMamba: 200 -> 256). ``batch_size`` is the *global* batch:
    under torchrun it is split evenly across processes, so a recipe means the same on any number
    of GPUs.
    """

    dataset: str = "demo"
    root: Optional[str] = None
    train_split: str = "train"
    val_split: str = "val"
    kwargs: dict[str, Any] = field(default_factory=dict)
    crop: int = 256
    resize: Optional[int] = None
    hflip: bool = True
    # the 8 flips and quarter turns (overhead imagery has no "up"); needs square crops
    dihedral: bool = False
    # input contrast scaled about its mean by a factor in [lo, hi] (the peers' NIR recipe: [0.5, 1.5])
    contrast: Optional[tuple[float, float]] = None
    batch_size: int = 8
    workers: int = 0
    val_limit: Optional[int] = None
    gray_sources: list[GraySourceConfig] = field(default_factory=list)
    gray_from_pairs: bool = True


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping. Exactly one of ``steps`` / ``epochs`` is set.

    ``schedule``: ``constant``; ``step`` (multiply by ``lr_gamma`` every ``lr_step_epochs``
    epochs); ``cosine`` (from ``lr`` to ``lr_min`` over the run). Intervals are in optimizer steps;
    0 disables (validation and the ``last`` checkpoint are always written at the end).
    """

    steps: Optional[int] = None
    epochs: Optional[int] = None
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    schedule: str = "constant"
    lr_step_epochs: int = 50
    lr_gamma: float = 0.5
    lr_min: float = 0.0
    warmup_steps: int = 0
    grad_clip: Optional[float] = 1.0
    ema_decay: Optional[float] = 0.999
    bf16: bool = True
    # bf16 autocast on CPU too (needs a CPU with native bf16, e.g. AVX-512 BF16 / AMX); evaluation
    # always stays fp32
    bf16_cpu: bool = False
    # NHWC weights and batches: oneDNN's convolutions are faster that way on CPU (BENCHMARKS.md,
    # bench_train_speed); the numbers differ from NCHW in the last bits only
    channels_last: bool = False
    # run a frozen pretrained trunk once per training image instead of every step, keeping its
    # features in memory as float16 (crossspec.engine.trunk_cache); at most cache_trunk_gb of them
    cache_trunk: bool = False
    cache_trunk_gb: float = 8.0
    # learning rate of a pretrained encoder's trainable stages (parameters named "encoder.*"), as a
    # factor of lr: fine-tuning ImageNet layers at the decoder's rate undoes what they learned
    encoder_lr_scale: float = 1.0
    seed: int = 0
    log_every: int = 10
    val_every: int = 0
    ckpt_every: int = 0
    keep_periodic: bool = True
    preview_images: int = 4
    # wall-clock budget of one session (one `crossspec train` process, setup and trunk cache
    # included), in minutes: when it is spent the run validates, saves `last` and stops;
    # `--resume` continues to `steps`/`epochs`
    max_minutes: Optional[float] = None
    # fit the run to this many minutes of wall clock (setup included): after a short timed stretch the run's length
    # becomes the steps that fit (at most train.steps/epochs, which stay the cap) and the schedule
    # (cosine, warmup) is laid over that length; the planned length is saved, so --resume keeps it
    minutes: Optional[float] = None


@dataclass
class LossConfig:
    """Loss terms and their weights (``crossspec.losses.composite.TERMS``) plus that module's
    options (``feature_network``, ``ssim_variant``, ...)."""

    weights: dict[str, float] = field(default_factory=lambda: {"l1": 1.0})
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GanConfig:
    """Adversarial training with two PatchGANs (on RGB and on HSV), LSGAN objective."""

    enabled: bool = False
    weight_rgb: float = 1.0
    weight_hsv: float = 1.0
    lr: Optional[float] = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageConfig:
    """One stage of a progressive (cooperative) run: ``steps`` optimizer steps with these
    cooperative loss ``weights`` (``crossspec.losses.cooperative.TERMS``, checked by the cooperative
    training task). ``frozen`` lists parts
    that do not update in the stage ("colorizer", "nir2gray", "gray2nir", or "translators");
    ``lr`` (default ``train.lr``) restarts the schedule (warm-up, then ``train.schedule``)."""

    name: str = "stage"
    steps: int = 0
    weights: dict[str, float] = field(default_factory=dict)
    frozen: list[str] = field(default_factory=list)
    lr: Optional[float] = None


@dataclass
class Config:
    """A whole experiment. ``stages`` (cooperative models only) splits ``train.steps`` into
    progressive stages; ``train.steps`` is then their sum. The training task of the model
    (``crossspec.engine.tasks``) checks the sections only it understands before training."""

    domain: str = "nir"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    stages: list[StageConfig] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


SCHEDULES = ("constant", "step", "cosine")


# --------------------------------------------------------------------------------------------
# typing helpers


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = " or ".join(_type_name(a) for a in args)
        return f"{inner} or null" if len(args) < len(typing.get_args(tp)) else inner
    if origin is tuple:
        return "list of " + ", ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (etype,) = typing.get_args(tp)
        return f"list of {'mappings' if dataclasses.is_dataclass(etype) else _type_name(etype)}"
    if origin is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` (from YAML or a command-line string) to ``tp`` or raise ConfigError."""

    def bad() -> ConfigError:
        return ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")

    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "~")):
            if type(None) in args:
                return None
            raise bad()
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise bad()
    if tp is Any:
        return yaml.safe_load(value) if isinstance(value, str) else value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad()
    if tp is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise bad() from None
        raise bad()
    if tp is float:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            # YAML 1.1 reads "2e-4" as a string, so floats written that way arrive here.
            try:
                return float(value.strip())
            except ValueError:
                raise bad() from None
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad()
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str):
            text = value.strip()
            value = yaml.safe_load(text if text.startswith("[") else f"[{text}]")
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise bad()
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is list:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if value is None:
            return []
        if not isinstance(value, (list, tuple)):
            raise bad()
        (etype,) = typing.get_args(tp)
        if dataclasses.is_dataclass(etype):
            return [_build(etype, v, f"{key}[{i}].") for i, v in enumerate(value)]
        return [_coerce(v, etype, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise bad()
        _, vtype = typing.get_args(tp)
        return {str(k): _coerce(v, vtype, f"{key}.{k}") for k, v in value.items()}
    raise ConfigError(f"{key}: unsupported field type {tp!r}")  # a bug in this module, not user input


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown_key(key: str, known: list[str], prefix: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    full = f"{prefix}{key}"
    if close:
        return ConfigError(f"{full}: unknown key (did you mean {(prefix + close[0])!r}?)")
    return ConfigError(f"{full}: unknown key; known keys: {', '.join(prefix + k for k in known)}")


def _build(cls: type, data: Any, prefix: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        key = str(key)
        if key not in names:
            raise _unknown_key(key, names, prefix)
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, tp, f"{prefix}{key}")
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a plain mapping (e.g. parsed YAML)."""
    cfg = _build(Config, data, "")
    check_config(cfg)
    return cfg


def apply_override(cfg: Config, item: str) -> None:
    """Apply one ``dotted.key=value`` override in place, typed by the target field."""
    if "=" not in item:
        raise ConfigError(f"{item}: overrides look like key=value (e.g. train.lr=2e-4)")
    dotted, raw = item.split("=", 1)
    dotted = dotted.strip()
    _apply_parts(cfg, dotted.split("."), raw, "", dotted)


def _apply_parts(obj: Any, parts: list[str], raw: str, prefix: str, dotted: str) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if dataclasses.is_dataclass(obj):
            names = [f.name for f in dataclasses.fields(obj)]
            if part not in names:
                raise _unknown_key(part, names, prefix)
            tp = _hints(type(obj))[part]
            if last:
                if dataclasses.is_dataclass(tp):
                    setattr(obj, part, _build(tp, yaml.safe_load(raw), f"{prefix}{part}."))
                else:
                    setattr(obj, part, _coerce(raw, tp, f"{prefix}{part}"))
                return
            child = getattr(obj, part)
            if isinstance(child, dict):
                # A free-form mapping (model.kwargs, loss): the rest of the key names one entry.
                sub = ".".join(parts[i + 1 :])
                vtype = typing.get_args(tp)[1] if typing.get_origin(tp) is dict else Any
                child[sub] = _coerce(raw, vtype, f"{prefix}{part}.{sub}")
                return
            if isinstance(child, list) and not last and i + 1 < len(parts):
                # A list of sections (stages): the next part is an index or an entry's name.
                sel = parts[i + 1]
                names_in = [getattr(c, "name", None) for c in child]
                if sel.isdigit() and int(sel) < len(child):
                    child = child[int(sel)]
                elif sel in names_in:
                    child = child[names_in.index(sel)]
                else:
                    raise ConfigError(f"{prefix}{part}.{sel}: no such entry; use an index 0..{len(child) - 1}"
                                      + (f" or a name ({', '.join(map(str, names_in))})" if any(names_in) else ""))
                if i + 2 >= len(parts):
                    raise ConfigError(f"{dotted}: name a key inside the entry (e.g. {prefix}{part}.{sel}.steps=100)")
                return _apply_parts(child, parts[i + 2 :], raw, f"{prefix}{part}.{sel}.", dotted)
            obj = child
            prefix += part + "."
        else:
            raise ConfigError(f"{prefix}{part}: {prefix.rstrip('.')} is not a section")


def check_config(cfg: Config) -> None:
    """Cross-field checks that types alone cannot express."""
    check_domain(cfg.domain, "domain", ConfigError)
    t, d = cfg.train, cfg.data
    if cfg.stages:
        _check_stages(cfg)
    if (t.steps is None) == (t.epochs is None):
        raise ConfigError("train.steps / train.epochs: set exactly one of them")
    for key, value in (("train.steps", t.steps), ("train.epochs", t.epochs), ("train.max_minutes", t.max_minutes),
                       ("train.minutes", t.minutes)):
        if value is not None and value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
    if t.schedule not in SCHEDULES:
        raise ConfigError(f"train.schedule: expected one of {', '.join(SCHEDULES)}, got {t.schedule!r}")
    if t.lr <= 0:
        raise ConfigError(f"train.lr: must be positive, got {t.lr}")
    if t.ema_decay is not None and not 0.0 <= t.ema_decay < 1.0:
        raise ConfigError(f"train.ema_decay: must be in [0, 1) or null, got {t.ema_decay}")
    if t.grad_clip is not None and t.grad_clip <= 0:
        raise ConfigError(f"train.grad_clip: must be positive or null, got {t.grad_clip}")
    if d.batch_size <= 0:
        raise ConfigError(f"data.batch_size: must be positive, got {d.batch_size}")
    if d.crop <= 0 or (d.resize is not None and d.resize <= 0):
        raise ConfigError("data.crop / data.resize: must be positive")
    if d.workers < 0:
        raise ConfigError(f"data.workers: must be >= 0, got {d.workers}")
    if t.cache_trunk:
        _check_trunk_cache(cfg)
    if t.encoder_lr_scale < 0:
        raise ConfigError(f"train.encoder_lr_scale: must be >= 0, got {t.encoder_lr_scale}")
    if not cfg.loss.weights:
        raise ConfigError("loss.weights: give at least one loss term and its weight")
    for name, weight in cfg.loss.weights.items():
        if weight < 0:
            raise ConfigError(f"loss.weights.{name}: weight must be >= 0, got {weight}")


def _check_trunk_cache(cfg: Config) -> None:
    """The trunk cache reproduces crops and mirrors only: anything that changes the input the
    trunk sees, or a staged run, would make the cached features wrong."""
    d = cfg.data
    for key, on in (("data.resize", d.resize is not None and d.resize != d.crop), ("data.dihedral", d.dihedral),
                    ("data.contrast", d.contrast is not None), ("stages", bool(cfg.stages))):
        if on:
            raise ConfigError(f"{key}: not possible with train.cache_trunk (cached trunk features are computed once "
                              "per image; only crops and horizontal mirrors are reproduced)")
    if cfg.train.cache_trunk_gb <= 0:
        raise ConfigError(f"train.cache_trunk_gb: must be positive, got {cfg.train.cache_trunk_gb}")


def _check_stages(cfg: Config) -> None:
    """Stage names unique, steps positive, weights >= 0, ``train.steps`` = their sum (filled in
    when unset). Which terms and parts a stage may name is the training task's to check
    (:func:`crossspec.engine.tasks.cooperative.check_stages`)."""
    t = cfg.train
    names = [s.name for s in cfg.stages]
    if len(set(names)) != len(names):
        raise ConfigError(f"stages: names must be unique, got {names}")
    for i, st in enumerate(cfg.stages):
        where = f"stages[{i}] ({st.name})"
        if st.steps <= 0:
            raise ConfigError(f"{where}.steps: must be positive, got {st.steps}")
        for term, w in st.weights.items():
            if w < 0:
                raise ConfigError(f"{where}.weights.{term}: weight must be >= 0, got {w}")
        if st.lr is not None and st.lr <= 0:
            raise ConfigError(f"{where}.lr: must be positive, got {st.lr}")
    total = sum(st.steps for st in cfg.stages)
    if t.epochs is not None:
        raise ConfigError("train.epochs: a staged run counts steps; set stages[*].steps instead")
    if t.steps is None:
        t.steps = total
    elif t.steps != total:
        raise ConfigError(f"train.steps: {t.steps} differs from the sum of stages[*].steps ({total}); "
                          "leave train.steps unset or make them agree")


def load_config(path: str | os.PathLike | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML experiment file (or start from the defaults when ``path`` is None) and apply
    ``key=value`` overrides. Raises :class:`ConfigError` naming the file or key on any problem."""
    data: Any = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise file_error(path, "config file not found", ConfigError)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise file_error(path, f"not a text file (byte {exc.object[exc.start]:#04x} at offset {exc.start} is "
                                   "not UTF-8); give the experiment's YAML file", ConfigError) from None
        except OSError as exc:
            raise file_error(path, f"cannot read ({exc.strerror or exc})", ConfigError) from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise file_error(path, f"not valid YAML ({str(exc).splitlines()[0]})", ConfigError) from None
        if not isinstance(data, dict):
            raise file_error(path, "the top level must be a mapping of sections", ConfigError)
    try:
        cfg = _build(Config, data, "")
    except ConfigError as exc:
        if path is None:
            raise
        raise ConfigError(f"{path}: {exc}") from None
    for item in overrides:
        apply_override(cfg, item)
    check_config(cfg)
    return cfg


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML text that :func:`load_config` reads back to an equal Config."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None)


def save_config(cfg: Config, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write the resolved config atomically as YAML."""
    from crossspec.io.atomic import atomic_path

    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(dump_config(cfg), encoding="utf-8")
    return Path(path)
