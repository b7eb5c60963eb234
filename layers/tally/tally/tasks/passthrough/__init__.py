"""Answers tally has no consolidation for: returned exactly as received, so nothing is lost.

The label is the AWS recipe's shape, ``{"annotationsFromAllWorkers": [{workerId, annotationData}]}``,
where each ``annotationData`` is the payload's own object, its ``content`` string byte for byte, plus
a ``note`` saying that no consolidation was done. Nothing is scored, so the label has no confidence.
When a batch's response would pass Lambda's size limit, the response sink spills the largest such
labels to S3 (:mod:`tally.gt.sink`, step 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ...gt.answers import Answer
from ...gt.events import DatasetObject
from ...gt.response import ObjectResult, TaskType
from ..base import JobContext, Observed
from ..kind import TaskKind

__all__ = ["NOTE", "PASSTHROUGH", "PassedThrough", "Passthrough", "is_passed_through"]

NOTE = "no consolidation for this answer shape; every answer is passed through"


def is_passed_through(task_type: object) -> bool:
    """Whether a result or label of ``task_type`` holds answers passed through, not a consolidation."""
    return task_type == TaskType.CUSTOM


class PassedThrough(NamedTuple):
    """A pass-through result: each worker's ``annotationData`` as received, and the note.

    >>> label = {"annotationsFromAllWorkers": [{"workerId": "w1", "annotationData": {"content": "{}"}}],
    ...          "note": NOTE}
    >>> PassedThrough.from_gt(label).to_gt() == label
    True
    """

    answers: tuple[tuple[str, Mapping[str, Any]], ...]
    note: str = NOTE

    def to_gt(self) -> dict[str, Any]:
        return {
            "annotationsFromAllWorkers": [{"workerId": w, "annotationData": dict(data)} for w, data in self.answers],
            "note": self.note,
        }

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> PassedThrough:
        answers = tuple((a["workerId"], a["annotationData"]) for a in label["annotationsFromAllWorkers"])
        return cls(answers, label["note"])


class Passthrough:
    name = "passthrough"
    type = TaskType.CUSTOM.value
    uses_batch_model = False
    needs_labels = False

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return True

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return ()

    def prepare(self, job: JobContext) -> None:
        return None

    def observe(self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext) -> Observed[None, list[Answer]]:
        return Observed(None, list(answers), answers_used=len(answers))

    def fit(self, summaries: Sequence[tuple[str, None]], job: JobContext) -> None:
        return None

    def consolidate(
        self, obj: DatasetObject, observed: Observed[None, list[Answer]], model: None, job: JobContext
    ) -> ObjectResult:
        label = PassedThrough(tuple((a.worker_id, a.received) for a in observed.prepared)).to_gt()
        return ObjectResult(
            obj.dataset_object_id, self.type, label, issues=list(observed.issues), answers_used=len(observed.prepared)
        )


PASSTHROUGH = TaskKind(shape=Passthrough(), task=".:Passthrough", from_gt=PassedThrough.from_gt)
