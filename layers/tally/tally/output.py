"""Ground Truth's response shapes, in one place.

One response entry per data object::

    {"datasetObjectId": "7", "consolidatedAnnotation": {"content": {
        "<attr>": <label>,
        "<attr>-metadata": {"type", "job-name", "human-annotated", "creation-date", "confidence", ...}}}}

A failed object keeps the same shape: its label is ``{"failure-reason": ...}`` and its metadata
carries ``failure-reason`` too, as Ground Truth's own failure records do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .tasks.base import AnswerIssue

__all__ = ["creation_date", "failure_entry", "response_entry"]


def creation_date(moment: datetime) -> str:
    """ISO 8601 in UTC without zone and with microseconds, as Ground Truth writes ``creation-date``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def response_entry(
    object_id: str,
    attr: str,
    label: Any,
    *,
    task_type: str,
    job_name: str,
    created: str,
    issues: Sequence[AnswerIssue] = (),
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One response element: ``label`` under ``attr``, Ground Truth's common metadata plus ``metadata``
    and the answers that were rejected or warned about."""
    meta: dict[str, Any] = {
        "type": task_type,
        "job-name": job_name,
        "human-annotated": "yes",
        "creation-date": created,
        **(metadata or {}),
    }
    rejected = [i.as_json() for i in issues if i.rejected]
    warned = [i.as_json() for i in issues if not i.rejected]
    if rejected:
        meta["rejected-answers"] = rejected
    if warned:
        meta["answer-warnings"] = warned
    return {
        "datasetObjectId": object_id,
        "consolidatedAnnotation": {"content": {attr: label, f"{attr}-metadata": meta}},
    }


def failure_entry(object_id: str, attr: str, reason: str, **kwargs: Any) -> dict[str, Any]:
    """A failed object: the label is ``{"failure-reason": reason}`` and the metadata repeats it."""
    metadata = {"failure-reason": reason, **kwargs.pop("metadata", {})}
    return response_entry(object_id, attr, {"failure-reason": reason}, metadata=metadata, **kwargs)
