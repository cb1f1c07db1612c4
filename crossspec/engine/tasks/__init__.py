"""Training tasks: one module per kind of training, picked from the model's registry entry.

``ModelEntry.task`` names the task: ``"colorize"`` -> :class:`~crossspec.engine.tasks.supervised.SupervisedTask`,
``"cooperative"`` -> :class:`~crossspec.engine.tasks.cooperative.CooperativeTask`,
``"hint-colorize"`` -> :class:`~crossspec.engine.tasks.hint_guided.HintGuidedTask`. A new kind of
training is one module defining a :class:`~crossspec.engine.tasks.base.TrainingTask` subclass and
calling :func:`register_task` for its name, plus a model registered with that ``task``.
"""
from __future__ import annotations

from crossspec.engine.tasks.base import TrainingTask
from crossspec.engine.tasks.registry import mark_not_trainable, register_task, task_for

# The built-in tasks register themselves.
from crossspec.engine.tasks import cooperative, hint_guided, supervised  # noqa: E402,F401  isort: skip

__all__ = ["TrainingTask", "mark_not_trainable", "register_task", "task_for"]
