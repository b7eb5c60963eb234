"""The task types: how each answer shape is recognised and consolidated (see :mod:`.base`).

Each type is a package ``tally.tasks.<type>`` listed in :mod:`.registry`, one line each (its light
``__init__`` declares a :class:`~.kind.TaskKind`: shape, adapter, output types, typed result, views).
:func:`make_tasks` builds a batch's tasks (fresh per batch, configured by the settings) in the
registry's order: the first task whose ``recognises`` accepts an answer's element owns it. Answers of
no known shape are passed through unchanged (:mod:`.passthrough`).

The tasks :func:`make_tasks` returns are :class:`LazyTask` objects: each recognises answers by its
registry line's keys and its kind's shape (the light package, no numpy, imported only for an answer
that carries one of the keys) and imports its adapter (numpy, Pillow and its aggregation algorithms)
only when the batch is consolidated as that task. A segmentation batch never imports the
geometric or Dawid–Skene code, a classification batch never imports Pillow, and importing the
consolidation handler imports none of the packages. The task classes themselves are importable from
here too (``from tally.tasks import SemanticSegmentation``); that imports their module.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..gt.answers import Answer
from ..gt.events import DatasetObject
from ..gt.response import ObjectResult
from ..settings import Settings
from .base import AnyTask, JobContext, LearnsAcrossBatches, Observed, Task
from .registry import ENTRIES, FALLBACK, TaskEntry

if TYPE_CHECKING:
    from .boxes.adapter import BoundingBoxes
    from .classification.adapter import MultiLabelClassification, SingleLabelClassification
    from .entities.adapter import NamedEntities
    from .free_text.adapter import FreeText
    from .instances.adapter import InstanceSegmentation
    from .keypoints.adapter import Keypoints
    from .lines.adapter import Lines, Polylines
    from .number.adapter import Numbers
    from .passthrough import Passthrough
    from .polygons.adapter import Polygons
    from .ranking.adapter import Rankings
    from .semantic_segmentation.adapter import SemanticSegmentation

__all__ = [
    "ENTRIES",
    "BoundingBoxes",
    "FreeText",
    "InstanceSegmentation",
    "JobContext",
    "Keypoints",
    "LazyTask",
    "Lines",
    "MultiLabelClassification",
    "NamedEntities",
    "Numbers",
    "Observed",
    "Passthrough",
    "Polygons",
    "Polylines",
    "Rankings",
    "SemanticSegmentation",
    "SingleLabelClassification",
    "Task",
    "TaskEntry",
    "learner",
    "make_tasks",
]


class LazyTask:
    """A :class:`Task` that recognises answers by its registry line (:meth:`TaskEntry.recognises`: the
    kind's light package imported only for an answer that may be the kind's) and imports the kind's
    module on first use of anything else (``needs_labels``, ``prepare``, ...), once, thread-safely.

    The batch driver asks ``needs_labels`` of the chosen task only, so only its module is imported.
    ``loaded`` is the task itself, for what the :class:`Task` protocol does not cover (the driver's
    :func:`learner`, tests).
    """

    def __init__(self, entry: TaskEntry, settings: Settings) -> None:
        self.entry = entry
        self._settings = settings
        self._task: AnyTask | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LazyTask({self.entry.cls}, {'loaded' if self._task is not None else 'not loaded'})"

    @property
    def name(self) -> str:
        return self.entry.kind.shape.name

    @property
    def type(self) -> str:
        return self.entry.kind.shape.type

    @property
    def loaded(self) -> AnyTask:
        """The task, its module imported on first access."""
        if self._task is None:
            with self._lock:
                if self._task is None:
                    self._task = self.entry.load(self._settings)
        return self._task

    @property
    def is_loaded(self) -> bool:
        return self._task is not None

    @property
    def uses_batch_model(self) -> bool:
        return self.loaded.uses_batch_model

    @property
    def needs_labels(self) -> bool:
        return self.loaded.needs_labels

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return self.entry.recognises(element)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return self.entry.kind.shape.labels_used(element)

    def prepare(self, job: JobContext) -> None:
        self.loaded.prepare(job)

    def observe(self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext) -> Observed[Any, Any]:
        return self.loaded.observe(obj, answers, job)

    def fit(self, summaries: Sequence[tuple[str, Any]], job: JobContext) -> Any:
        return self.loaded.fit(summaries, job)

    def consolidate(
        self, obj: DatasetObject, observed: Observed[Any, Any], model: Any, job: JobContext
    ) -> ObjectResult:
        return self.loaded.consolidate(obj, observed, model, job)


def learner(task: AnyTask) -> LearnsAcrossBatches | None:
    """The task as a :class:`LearnsAcrossBatches` (a lazy task's loaded one), or ``None``."""
    actual = task.loaded if isinstance(task, LazyTask) else task
    return actual if isinstance(actual, LearnsAcrossBatches) else None


def make_tasks(settings: Settings) -> tuple[AnyTask, ...]:
    """The task types tally consolidates, in recognition order, for one batch (none imported yet)."""
    return tuple(LazyTask(entry, settings) for entry in ENTRIES)


def _classes() -> dict[str, str]:
    return {entry.cls: entry.module for entry in (*ENTRIES, FALLBACK)}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    module = _classes().get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_classes()))
