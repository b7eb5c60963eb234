"""What every task type module provides, and the values passed between it and the batch driver."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..labels import ClassTable
from ..settings import Settings
from ..storage import Storage

__all__ = ["Answer", "AnswerIssue", "ObjectContext", "Outcome", "Task"]


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


@dataclass(frozen=True)
class ObjectContext:
    """Everything a task needs besides the answers, the same for every object of a batch."""

    classes: ClassTable
    storage: Storage
    mask_prefix: str
    settings: Settings


@dataclass
class Outcome:
    """A consolidated object: the label (``content[attr]``) and task-specific metadata entries."""

    label: dict[str, Any]
    metadata: dict[str, Any]
    confidence: float
    issues: list[AnswerIssue] = field(default_factory=list)
    answers_used: int = 0


class Task(Protocol):
    """A task type: recognises its answers by shape and consolidates one object's answers."""

    name: str
    type: str  # the ``type`` written into ``<attr>-metadata``

    def matches(self, element: Mapping[str, Any]) -> bool: ...

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[str]: ...

    def consolidate(self, object_id: str, answers: Sequence[Answer], ctx: ObjectContext) -> Outcome:
        """Raises :class:`tally.errors.ObjectError` when no answer is usable."""
        ...
