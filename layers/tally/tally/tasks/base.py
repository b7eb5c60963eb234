"""What every task type module provides, and the values passed between it and the batch driver."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..labels import ClassTable
from ..settings import Settings
from ..storage import Storage

__all__ = ["Answer", "AnswerIssue", "BatchCache", "ObjectContext", "Outcome", "Task"]


@dataclass(frozen=True)
class Answer:
    """One worker's answer: the output of the template's crowd element (already JSON-decoded)."""

    worker_id: str
    element: Mapping[str, Any]
    content: Mapping[str, Any]  # the whole decoded form output the element came from


@dataclass(frozen=True)
class AnswerIssue:
    """Something wrong with one answer: ``rejected`` answers were left out of the vote entirely."""

    worker_id: str
    reason: str
    rejected: bool = True

    def as_json(self) -> dict[str, str]:
        return {"workerId": self.worker_id, "reason": self.reason}


class BatchCache:
    """What a task keeps from phase 1 for phase 2 of the same object, within a memory budget
    (beyond it, phase 2 simply recomputes). Thread-safe."""

    def __init__(self, budget_bytes: int = 0) -> None:
        self._budget = budget_bytes
        self._used = 0
        self._items: dict[str, tuple[Any, int]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: Any, nbytes: int) -> bool:
        with self._lock:
            if key in self._items or self._used + nbytes > self._budget:
                return False
            self._items[key] = (value, nbytes)
            self._used += nbytes
            return True

    def contains(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def pop(self, key: str) -> Any:
        with self._lock:
            value, nbytes = self._items.pop(key, (None, 0))
            self._used -= nbytes
            return value


@dataclass(frozen=True)
class ObjectContext:
    """Everything a task needs besides the answers, the same for every object of a batch."""

    classes: ClassTable
    storage: Storage
    mask_prefix: str
    settings: Settings
    cache: BatchCache = field(default_factory=BatchCache)


@dataclass
class Outcome:
    """A consolidated object: the label (``content[attr]``) and task-specific metadata entries."""

    label: dict[str, Any]
    metadata: dict[str, Any]
    confidence: float
    issues: list[AnswerIssue] = field(default_factory=list)
    answers_used: int = 0


class Task(Protocol):
    """A task type: recognises its answers by shape and consolidates one object's answers.

    Consolidation runs in two phases over a batch. When ``needs_batch_model`` is true for the
    deployment's settings, ``observe`` is called for every object first and ``fit`` once on all observations (e.g. to estimate each
    worker's reliability across the batch); then ``consolidate`` is called for every object with the
    fitted model (``None`` when there is none).
    """

    name: str
    type: str  # the ``type`` written into ``<attr>-metadata``

    def matches(self, element: Mapping[str, Any]) -> bool: ...

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[str]: ...

    def needs_batch_model(self, settings: Settings) -> bool: ...

    def observe(self, object_id: str, answers: Sequence[Answer], ctx: ObjectContext) -> Any: ...

    def fit(self, observations: Sequence[Any], ctx: ObjectContext) -> Any: ...

    def consolidate(self, object_id: str, answers: Sequence[Answer], ctx: ObjectContext, model: Any) -> Outcome:
        """Raises :class:`tally.errors.ObjectError` when no answer is usable. ``answers`` is empty
        when the task's phase-1 result for the object is in ``ctx.cache``."""
        ...
