"""Where a finished job's output-manifest line keeps its workers' answers, for re-consolidation (``tally
reconsolidate`` on one machine and on AWS, :mod:`tally.distributed`).

AWS's recipe "consolidation" keeps every worker's answer under the label attribute as
``{"annotationsFromAllWorkers": [{workerId, annotationData}]}``; a job run without a consolidation
Lambda leaves the attribute empty and points at the answers with ``worker-response-ref`` in its
metadata (a worker-response file: ``{"answers": [{workerId, answerContent, ...}]}``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import TallyError
from .storage import Storage

__all__ = ["data_object", "line_annotations", "worker_response_annotations"]


def _parse(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TallyError(f"{name} is not valid JSON") from exc


Parse = Callable[[bytes, str], Any]
"""Reads a file's bytes as JSON, naming the file (the second argument) in its error."""


def worker_response_annotations(ref: str, storage: Storage, parse: Parse = _parse) -> list[dict[str, Any]]:
    """A worker-response file as payload annotations. Raises :class:`TallyError` (naming ``ref``) when
    it cannot be read or has no answers list (``parse``: how its JSON is read and refused)."""
    document = parse(storage.read(ref), ref)
    answers = document.get("answers") if isinstance(document, dict) else None
    if not isinstance(answers, list):
        raise TallyError(f"{ref} has no answers list")
    return [
        {"workerId": str(a.get("workerId")), "annotationData": {"content": json.dumps(a.get("answerContent"))}}
        for a in answers
        if isinstance(a, dict)
    ]


def line_annotations(line: dict[str, Any], attr: str, storage: Storage, parse: Parse = _parse) -> list[dict[str, Any]]:
    """The answers a line holds (``annotationsFromAllWorkers``) or points at (``worker-response-ref``)."""
    value = line.get(attr)
    if isinstance(value, dict) and isinstance(value.get("annotationsFromAllWorkers"), list):
        return list(value["annotationsFromAllWorkers"])
    meta = line.get(f"{attr}-metadata")
    ref = meta.get("worker-response-ref") if isinstance(meta, dict) else None
    if isinstance(ref, str) and ref:
        return worker_response_annotations(ref, storage, parse)
    return []


def data_object(line: dict[str, Any]) -> dict[str, str]:
    """The line's data object as a consolidation payload element carries it."""
    if isinstance(line.get("source-ref"), str):
        return {"s3Uri": line["source-ref"]}
    if isinstance(line.get("source"), str):
        return {"content": line["source"]}
    return {}
