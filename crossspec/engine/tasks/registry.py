"""Which training task trains which model: ``ModelEntry.task`` -> a :class:`TrainingTask` class."""
from __future__ import annotations

from crossspec.config import Config
from crossspec.engine.tasks.base import TrainingTask
from crossspec.errors import ConfigError
from crossspec.models import ModelEntry

_TASKS: dict[str, type[TrainingTask]] = {}
# model tasks that do not train on their own, with the reason the trainer gives
_NOT_TRAINABLE: dict[str, str] = {}


def register_task(name: str, task: type[TrainingTask]) -> type[TrainingTask]:
    """Make models whose entry says ``task=name`` train with ``task``."""
    if name in _TASKS and _TASKS[name] is not task:
        raise ValueError(f"training task {name!r} is registered twice")
    _TASKS[name] = task
    return task


def mark_not_trainable(name: str, reason: str) -> None:
    """Models whose entry says ``task=name`` cannot be trained alone; ``reason`` tells the user what to do."""
    _NOT_TRAINABLE[name] = reason


def task_for(cfg: Config, entry: ModelEntry) -> TrainingTask:
    """The training task of ``entry``, built for ``cfg`` and with the config checked."""
    if entry.task in _NOT_TRAINABLE:
        raise ConfigError(f"model.name: {entry.name!r} {_NOT_TRAINABLE[entry.task]}")
    if entry.task not in _TASKS:
        raise ConfigError(f"model.name: {entry.name!r} has task {entry.task!r}, which no training task handles; "
                          f"trainable tasks: {', '.join(sorted(_TASKS))}")
    task = _TASKS[entry.task](cfg, entry)
    task.check_config()
    return task
