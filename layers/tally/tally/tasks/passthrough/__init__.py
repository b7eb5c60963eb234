"""Answers tally has no consolidation for: returned exactly as received, so nothing is lost.

The label is the AWS recipe's shape, ``{"annotationsFromAllWorkers": [{workerId, annotationData}]}``,
where each ``annotationData`` is the payload's own object, its ``content`` string byte for byte, plus
a ``note`` saying that no consolidation was done. Nothing is scored, so the label has no confidence.
When a batch's response would pass Lambda's size limit, the response sink spills the largest such
labels to S3 (:mod:`tally.gt.sink`, step 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...gt.answers import Answer
from ...gt.events import DatasetObject
from ...gt.response import ObjectResult, TaskType
from ..base import JobContext, Observed
from ..kind import TaskKind

__all__ = ["NOTE", "PASSTHROUGH", "Passthrough", "is_passed_through"]

NOTE = "no consolidation for this answer shape; every answer is passed through"


def is_passed_through(task_type: object) -> bool:
    """Whether a result or label of ``task_type`` holds answers passed through, not a consolidation."""
    return task_type == TaskType.CUSTOM


class Passthrough:
    name = "passthrough"
    type = TaskType.CUSTOM.value
    uses_batch_model = False
    needs_labels = False
    keys: tuple[str, ...] = ()

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
        label = {
            "annotationsFromAllWorkers": [
                {"workerId": a.worker_id, "annotationData": dict(a.received)} for a in observed.prepared
            ],
            "note": NOTE,
        }
        return ObjectResult(
            obj.dataset_object_id, self.type, label, issues=list(observed.issues), answers_used=len(observed.prepared)
        )


PASSTHROUGH = TaskKind(shape=Passthrough(), task=".:Passthrough", types=(TaskType.CUSTOM.value,))
