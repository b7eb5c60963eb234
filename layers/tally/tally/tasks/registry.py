"""The task types tally knows, one line each: a type is one package (``tally.tasks.<package>``,
whose light ``__init__`` defines a :class:`~tally.tasks.kind.TaskKind`) plus one line here.

Nothing is imported until asked for: the consolidation handler imports this module, not the packages.
A line declares the element keys that mark its kind's answers (:class:`TaskEntry`), so a batch
imports the light package only of a kind whose keys its answers carry (or, for a kind no key marks,
that an answer reaches in the recognition order), and only the chosen kind's adapter (numpy, Pillow,
its algorithms): a classification batch imports the classification package and nothing of the other
kinds. The tools and pre-annotation find a label's kind by its ``type`` (:func:`kind_of`); a line
declares its kind's output types too, so that imports the light package of that one kind only.

Adding a type (docs/adding-a-task-type.md): write ``tally/tasks/<package>/`` and add its line to
:data:`ENTRIES`; the order of :data:`ENTRIES` is the recognition order (the first kind whose shape
recognises an answer's element owns it).

Examples:
    >>> [e.name for e in ENTRIES][:3]
    ['semantic_segmentation:SEMANTIC_SEGMENTATION', 'classification:SINGLE_LABEL', 'classification:MULTI_LABEL']
    >>> kind_of("groundtruth/text-classification").shape.name
    'classification'
    >>> kind_of("groundtruth/unheard-of") is None
    True
    >>> [e.kind_name for e in ENTRIES if e.recognises({"boundingBoxes": []})]
    ['BOXES']
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import TYPE_CHECKING, Any, NamedTuple

from ..gt.answers import RANKING_KEY
from ..gt.response import TaskType
from .kind import TaskKind

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..settings import Settings
    from .base import AnyTask

__all__ = ["ENTRIES", "FALLBACK", "TaskEntry", "element_keys", "kind_of"]


class TaskEntry(NamedTuple):
    """One line of the registry: the package, the name of its :class:`TaskKind`, the element keys
    that mark the kind's answers, and the output ``type`` values its labels carry.

    ``keys`` are declared here, not in the package, so that recognising an answer costs no import:
    an element with none of a kind's keys is not the kind's (its package is not imported to ask), and
    classification's shapes step aside for an element carrying another kind's key
    (:func:`element_keys`). A kind whose answers no key marks (a bare value) has none: its shape is
    asked, its package imported, whenever an answer reaches it in the recognition order.

    ``types``, the output ``type`` values the kind's labels carry (the report, export and
    pre-annotation find a label's kind by them), are declared here alone for the same reason: finding
    a label's kind (:func:`kind_of`) imports the package of that kind only. A kind whose labels another
    kind reads (polygons: instance segmentation's) has none.
    """

    package: str
    kind_name: str
    keys: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.package}:{self.kind_name}"

    @property
    def kind(self) -> TaskKind:
        """The kind (its package's light ``__init__`` imported on first use)."""
        return _kind(self.package, self.kind_name)

    def recognises(self, element: Mapping[str, Any]) -> bool:
        """Whether the kind's shape recognises ``element``; without any of :attr:`keys` (a kind that
        has some), no, without importing the package."""
        if self.keys and not any(key in element for key in self.keys):
            return False
        return self.kind.shape.recognises(element)

    @property
    def module(self) -> str:
        """The module of the kind's task class."""
        return importlib.util.resolve_name(self.kind.task.partition(":")[0], f"{__package__}.{self.package}")

    @property
    def cls(self) -> str:
        """The name of the kind's task class."""
        return self.kind.task.partition(":")[2]

    def load(self, settings: Settings) -> AnyTask:
        """Import the kind's task module and make the task (fresh per batch: tasks keep batch state)."""
        factory: Callable[..., AnyTask] = getattr(importlib.import_module(self.module), self.cls)
        return factory(settings) if self.kind.configured else factory()


_T = TaskType
ENTRIES: tuple[TaskEntry, ...] = (
    TaskEntry("semantic_segmentation", "SEMANTIC_SEGMENTATION", ("labeledImage",), (_T.SEMANTIC_SEGMENTATION,)),
    TaskEntry(
        "classification",
        "SINGLE_LABEL",
        ("label",),
        (_T.IMAGE_CLASSIFICATION, _T.TEXT_CLASSIFICATION, _T.VIDEO_CLASSIFICATION),
    ),
    TaskEntry(
        "classification",
        "MULTI_LABEL",
        ("labels",),
        (_T.IMAGE_CLASSIFICATION_MULTILABEL, _T.TEXT_CLASSIFICATION_MULTILABEL, _T.VIDEO_CLASSIFICATION_MULTILABEL),
    ),
    TaskEntry("entities", "NAMED_ENTITIES", ("entities",), (_T.NAMED_ENTITY_RECOGNITION,)),
    TaskEntry("boxes", "BOXES", ("boundingBoxes",), (_T.OBJECT_DETECTION,)),
    TaskEntry("keypoints", "KEYPOINTS", ("keypoints",), (_T.KEYPOINTS,)),
    TaskEntry("instances", "INSTANCES", ("instances", "labeledImage"), (_T.INSTANCE_SEGMENTATION,)),
    TaskEntry("polygons", "POLYGONS", ("polygons",)),  # its labels are instance segmentation's
    TaskEntry("number", "NUMBER", types=(_T.NUMBER,)),
    TaskEntry("free_text", "FREE_TEXT", types=(_T.FREE_TEXT,)),
    TaskEntry("ranking", "RANKING", (RANKING_KEY,), (_T.RANKING,)),
    TaskEntry("lines", "POLYLINE", ("polylines",), (_T.POLYLINE,)),
    TaskEntry("lines", "LINE", ("lines",), (_T.LINE,)),
)
"""Every task type tally consolidates, in recognition order."""

FALLBACK = TaskEntry("passthrough", "PASSTHROUGH", types=(_T.CUSTOM,))
"""Answers of no known shape: passed through unchanged."""


@functools.cache
def _kind(package: str, name: str) -> TaskKind:
    kind = getattr(importlib.import_module(f"{__package__}.{package}"), name)
    if not isinstance(kind, TaskKind):
        raise TypeError(f"tally.tasks.{package}.{name} is not a TaskKind")
    return kind


@functools.cache
def _by_type() -> dict[str, TaskEntry]:
    found: dict[str, TaskEntry] = {}
    for entry in (*ENTRIES, FALLBACK):
        for type_ in entry.types:
            if str(type_) in found:
                raise ValueError(f"two task kinds read labels of type {type_}")
            found[str(type_)] = entry
    return found


def kind_of(type_: str) -> TaskKind | None:
    """The kind whose labels carry ``type`` (``None``: no kind's); imports that kind's light package
    only (the registry lines declare the types)."""
    entry = _by_type().get(type_)
    return None if entry is None else entry.kind


@functools.cache
def element_keys(excluding: str) -> frozenset[str]:
    """The element keys that mark the shapes of every registered package but ``excluding`` (``""``: of
    every package)."""
    return frozenset(k for e in ENTRIES if e.package != excluding for k in e.keys)
