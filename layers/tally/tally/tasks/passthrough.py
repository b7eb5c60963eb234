"""Answers tally has no consolidation for: returned as they came, so nothing is lost.

The label is the AWS recipe's shape, ``{"annotationsFromAllWorkers": [{workerId, annotationData}]}``,
with a ``note`` saying that no consolidation was done.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..settings import Settings
from .base import Answer, ObjectContext, Outcome

__all__ = ["PASSTHROUGH"]


class _Passthrough:
    name = "passthrough"
    type = "groundtruth/custom"

    def matches(self, element: Mapping[str, Any]) -> bool:
        return True

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[str]:
        return ()

    def needs_batch_model(self, settings: Settings) -> bool:
        return False

    def observe(self, object_id: str, answers: Sequence[Answer], ctx: ObjectContext) -> None:
        return None

    def fit(self, observations: Sequence[Any], ctx: ObjectContext) -> None:
        return None

    def consolidate(self, object_id: str, answers: Sequence[Answer], ctx: ObjectContext, model: Any = None) -> Outcome:
        label = {
            "annotationsFromAllWorkers": [
                {"workerId": a.worker_id, "annotationData": {"content": json.dumps(a.content, separators=(",", ":"))}}
                for a in answers
            ],
            "note": "no consolidation for this answer shape; every answer is passed through",
        }
        return Outcome(label=label, metadata={}, confidence=0.0, answers_used=len(answers))


PASSTHROUGH = _Passthrough()
