"""The task types: how each answer shape is recognised and consolidated (see :mod:`.base`).

:func:`make_tasks` builds a batch's tasks (fresh per batch, configured by the settings). The order
matters: the first task whose ``recognises`` accepts an answer's element owns it. Answers of no known
shape are passed through unchanged (:mod:`.passthrough`).

The tasks :func:`make_tasks` returns are :class:`LazyTask` objects: each recognises answers by its
shape (:mod:`.shapes`, no numpy) and imports its own module (numpy, Pillow and its aggregation
algorithms) only when the batch is consolidated as that task. A segmentation batch never imports the
geometric or Dawid–Skene code, a classification batch never imports Pillow, and importing the
consolidation handler imports none of them. The task classes themselves are importable from here
too (``from tally.tasks import SemanticSegmentation``); that imports their module.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..gt.answers import Answer
from ..gt.events import DatasetObject
from ..gt.response import ObjectResult
from ..settings import Settings
from .base import AnyTask, JobContext, LearnsAcrossBatches, Observed, Task
from .passthrough import Passthrough
from .shapes import (
    BoxesShape,
    EntitiesShape,
    InstancesShape,
    KeypointsShape,
    LinesShape,
    MultiLabelShape,
    NumberShape,
    PolygonsShape,
    PolylinesShape,
    RankingShape,
    SegmentationShape,
    Shape,
    SingleLabelShape,
    TextShape,
)

if TYPE_CHECKING:
    from .classification import MultiLabelClassification, SingleLabelClassification
    from .entities import NamedEntities
    from .geometry import BoundingBoxes, InstanceSegmentation, Keypoints, Polygons
    from .lines import Lines, Polylines
    from .numbers import Numbers
    from .ranking import Rankings
    from .segmentation import SemanticSegmentation
    from .text import FreeText

__all__ = [
    "KINDS",
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
    "TaskKind",
    "learner",
    "make_tasks",
]


@dataclass(frozen=True)
class TaskKind:
    """One task type before its module is imported.

    Attributes:
        shape: the light half of the task class (:mod:`.shapes`): ``name``, ``type``, ``recognises``,
            ``labels_used``; the task class inherits from it, so the two cannot disagree.
        module: the ``tally.tasks`` submodule defining the task class.
        cls: the task class's name in ``module``.
        configured: whether the class takes the :class:`Settings` (only segmentation does).
    """

    shape: Shape
    module: str
    cls: str
    configured: bool = False

    def load(self, settings: Settings) -> AnyTask:
        """Import the task's module and make the task (fresh per batch: tasks keep batch state)."""
        factory: Callable[..., AnyTask] = getattr(importlib.import_module(f"{__name__}.{self.module}"), self.cls)
        return factory(settings) if self.configured else factory()


KINDS: tuple[TaskKind, ...] = (
    TaskKind(SegmentationShape(), "segmentation", "SemanticSegmentation", configured=True),
    TaskKind(SingleLabelShape(), "classification", "SingleLabelClassification"),
    TaskKind(MultiLabelShape(), "classification", "MultiLabelClassification"),
    TaskKind(EntitiesShape(), "entities", "NamedEntities"),
    TaskKind(BoxesShape(), "geometry", "BoundingBoxes"),
    TaskKind(KeypointsShape(), "geometry", "Keypoints"),
    TaskKind(InstancesShape(), "geometry", "InstanceSegmentation"),
    TaskKind(PolygonsShape(), "geometry", "Polygons"),
    # issue 21's answer kinds (each also consolidates a form field of its kind: tally.tasks.fields)
    TaskKind(NumberShape(), "numbers", "Numbers"),
    TaskKind(TextShape(), "text", "FreeText"),
    TaskKind(RankingShape(), "ranking", "Rankings"),
    TaskKind(PolylinesShape(), "lines", "Polylines"),
    TaskKind(LinesShape(), "lines", "Lines"),
)
"""Every task type tally consolidates, in recognition order."""


class LazyTask:
    """A :class:`Task` that recognises answers by its kind's shape and imports the kind's module on
    first use of anything else (``needs_labels``, ``prepare``, ...), once, thread-safely.

    The batch driver asks ``needs_labels`` of the chosen task only, so only its module is imported.
    ``loaded`` is the task itself, for what the :class:`Task` protocol does not cover (the driver's
    :func:`learner`, tests).
    """

    def __init__(self, kind: TaskKind, settings: Settings) -> None:
        self.kind = kind
        self.name: str = kind.shape.name
        self.type: str = kind.shape.type
        self._settings = settings
        self._task: AnyTask | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LazyTask({self.kind.cls}, {'loaded' if self._task is not None else 'not loaded'})"

    @property
    def loaded(self) -> AnyTask:
        """The task, its module imported on first access."""
        if self._task is None:
            with self._lock:
                if self._task is None:
                    self._task = self.kind.load(self._settings)
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
        return self.kind.shape.recognises(element)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return self.kind.shape.labels_used(element)

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
    return tuple(LazyTask(kind, settings) for kind in KINDS)


_CLASSES = {kind.cls: kind.module for kind in KINDS}


def __getattr__(name: str) -> Any:
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_CLASSES))
