"""What goes back to Ground Truth: task type names, one entry per data object, and the size limit
(which :mod:`.sink` keeps the whole response under).

One response entry per data object::

    {"datasetObjectId": "7", "consolidatedAnnotation": {"content": {
        "<attr>": <label>,
        "<attr>-metadata": {"type", "job-name", "human-annotated", "creation-date", ...}}}}

For custom jobs Ground Truth may write its own ``<attr>-metadata`` (``type: groundtruth/custom``, its
job name and dates) over the one returned, so every fact tally computes is **also** in the label value
(a JSON object): its ``type``, confidence, class map, worker quality and the answers rejected or
warned about. ``<attr>-metadata`` keeps the built-in task's shape as a best effort.

A failed object keeps the same shape: its label is ``{"failure-reason": ...}`` and its metadata
carries ``failure-reason`` too, as Ground Truth's own failure records do.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .answers import AnswerIssue

Members = tuple[tuple[tuple[str, int], ...], ...]
"""Per consolidated item, ``(workerId, item index in the worker's answer)`` of its members."""

__all__ = [
    "RESPONSE_LIMIT_BYTES",
    "Members",
    "ObjectResult",
    "TaskType",
    "artefact_name",
    "creation_date",
    "members_of",
    "response_size",
]


def members_of(
    workers: Sequence[str], sources: Sequence[Sequence[int]], fused: Iterable[Iterable[tuple[int, int]]]
) -> Members:
    """:data:`Members` from a consolidation's own: per consolidated item, its members as ``(answer,
    item kept of that answer)``, mapped through each answer's worker and ``sources`` (each kept item's
    index in the worker's answer)."""
    return tuple(tuple((workers[a], sources[a][i]) for a, i in item) for item in fused)


RESPONSE_LIMIT_BYTES = 5_500_000
"""Largest response tally returns: Lambda's synchronous limit is 6 MB; the rest is headroom."""


class TaskType(StrEnum):
    """The ``type`` of ``<attr>-metadata``: Ground Truth's built-in names where one exists."""

    SEMANTIC_SEGMENTATION = "groundtruth/semantic-segmentation"
    IMAGE_CLASSIFICATION = "groundtruth/image-classification"
    TEXT_CLASSIFICATION = "groundtruth/text-classification"
    IMAGE_CLASSIFICATION_MULTILABEL = "groundtruth/image-classification-multilabel"
    TEXT_CLASSIFICATION_MULTILABEL = "groundtruth/text-classification-multilabel"
    VIDEO_CLASSIFICATION = "groundtruth/video-classification"
    VIDEO_CLASSIFICATION_MULTILABEL = "groundtruth/video-classification-multilabel"
    NAMED_ENTITY_RECOGNITION = "groundtruth/named-entity-recognition"
    OBJECT_DETECTION = "groundtruth/object-detection"
    INSTANCE_SEGMENTATION = "groundtruth/instance-segmentation"
    KEYPOINTS = "groundtruth/keypoint"
    CUSTOM = "groundtruth/custom"
    # answer kinds Ground Truth has no built-in task for: tally's own names
    NUMBER = "tally/number"
    FREE_TEXT = "tally/free-text"
    RANKING = "tally/ranking"
    POLYLINE = "tally/polyline"
    LINE = "tally/line"


def creation_date(moment: datetime) -> str:
    """ISO 8601 in UTC without zone and with microseconds, as Ground Truth writes ``creation-date``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def artefact_name(object_id: str, data: bytes, suffix: str) -> str:
    """``<readable id>_<digest><suffix>``: safe as one path segment, unique per (ID, content), the
    same on a retry."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", object_id).strip("-")[:64] or "object"
    digest = hashlib.sha256(object_id.encode("utf-8") + b"\0" + data).hexdigest()[:20]
    return f"{slug}_{digest}{suffix}"


@dataclass
class ObjectResult:
    """One data object's outcome, consolidated or failed.

    ``label`` is ``content[<attr>]`` (``None`` for a failure), ``metadata`` the task's entries of
    ``<attr>-metadata`` beyond the common four, ``confidence`` the object's score (``None`` when
    nothing was scored, as for answers passed through). ``batch_figures`` names the keys of the
    label's ``worker-quality`` rows that are the worker's figures over the whole batch, the same in
    every object (classification's ``accuracy``; not segmentation's per-object ``reliability``):
    what the response sink may move to one file per batch (:mod:`.sink`, step 2). ``form_fields``:
    for a form (:mod:`tally.forms.consolidate`), each field's name and whether it was consolidated
    (``False``: kept as given); ``None`` for a task's result. ``members``: for a task that fuses items
    (boxes, keypoints, polygons and instances, polylines and lines) when the caller asks
    (``consolidate_batch(members=True)``: the importers; never the Lambdas), per consolidated item the
    ``(workerId, index of the item in the worker's answer)`` of each worker's item fused into it, in the
    label's order; never written to the response (importers read it: :mod:`tally.importers.attributes`).
    ``class_map``: for a semantic mask, when the caller asks (the same flag), the voted ``(height,
    width)`` uint8 class array the label's ``mask-ref`` PNG holds, so an importer's write-back need not
    read the PNG back; never written to the response.
    """

    object_id: str
    task_type: str
    label: dict[str, Any] | None
    metadata: dict[str, Any] = field(default_factory=dict)
    confidence: float | None = None
    issues: list[AnswerIssue] = field(default_factory=list)
    failure: str | None = None
    answers_used: int = 0
    batch_figures: tuple[str, ...] = ()
    form_fields: tuple[tuple[str, bool], ...] | None = None
    members: Members | None = field(default=None, compare=False, repr=False)
    class_map: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def failed(cls, object_id: str, task_type: str, reason: str, issues: Sequence[AnswerIssue] = ()) -> ObjectResult:
        return cls(object_id, task_type, None, failure=reason, issues=list(issues))

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def rejected(self) -> int:
        return sum(i.rejected for i in self.issues)

    def to_gt(self, attr: str, *, job_name: str, created: str) -> dict[str, Any]:
        """The response entry (module docstring)."""
        facts: dict[str, Any] = {}
        rejected = [i.as_json() for i in self.issues if i.rejected]
        warned = [i.as_json() for i in self.issues if not i.rejected]
        if rejected:
            facts["rejected-answers"] = rejected
        if warned:
            facts["answer-warnings"] = warned
        meta: dict[str, Any] = {
            "type": self.task_type,
            "job-name": job_name,
            "human-annotated": "yes",
            "creation-date": created,
        }
        if self.failure is not None:
            label: dict[str, Any] = {"type": self.task_type, "failure-reason": self.failure, **facts}
            meta["failure-reason"] = self.failure
        else:
            label = {"type": self.task_type, **(self.label or {}), **facts}
            meta.update(self.metadata)
        meta.update(facts)
        return {
            "datasetObjectId": self.object_id,
            "consolidatedAnnotation": {"content": {attr: label, f"{attr}-metadata": meta}},
        }


def response_size(entries: Sequence[Any]) -> int:
    """Bytes of the response as Lambda's runtime serialises it (ASCII JSON: non-Latin text escaped)."""
    return len(json.dumps(entries, separators=(", ", ": ")).encode("ascii"))
